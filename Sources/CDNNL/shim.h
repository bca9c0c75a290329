#ifndef INPARS_CDNNL_SHIM_H
#define INPARS_CDNNL_SHIM_H
/* oneDNN 2.x C API (Debian libdnnl-dev; it ships no pkg-config file, so the module links
   "dnnl" by name). */
#include <oneapi/dnnl/dnnl.h>
#endif
