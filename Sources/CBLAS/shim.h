#ifndef INPARS_CBLAS_SHIM_H
#define INPARS_CBLAS_SHIM_H
#include <cblas.h>
/* OpenBLAS extensions (declared in openblas_config.h / cblas.h of OpenBLAS). */
#endif
