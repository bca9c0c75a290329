#ifndef INPARS_CZLIB_SHIM_H
#define INPARS_CZLIB_SHIM_H
#include <zlib.h>

/* inflateInit2 is a macro; raw deflate streams (zip entries) have no zlib header. */
static inline int czlib_inflate_init_raw(z_stream *stream) { return inflateInit2(stream, -MAX_WBITS); }
#endif
