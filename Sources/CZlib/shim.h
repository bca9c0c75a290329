#ifndef INPARS_CZLIB_SHIM_H
#define INPARS_CZLIB_SHIM_H
#include <zlib.h>
#endif
