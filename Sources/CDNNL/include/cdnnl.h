#ifndef INPARS_CDNNL_H
#define INPARS_CDNNL_H
/* oneDNN 2.x C API (Debian libdnnl-dev), loaded on first use.
 *
 * inpars does not link libdnnl: most commands (index, search, evaluate, triples) never run a
 * oneDNN product, and mapping and relocating libdnnl and its OpenMP runtime at every start
 * cost a short command about 2 ms of CPU (Docs/performance.md, "Start-up"). This header
 * declares the C API's types (dnnl_types.h) and, for each function inpars calls, a static
 * inline function of the same name that calls libdnnl.so.2 through a pointer that loader.c
 * looks up (dlopen, dlsym) the first time any of them runs. If the library cannot be loaded
 * the functions return a failure (dnnl_runtime_error, NULL, 0) and `cdnnl_load_failure()` says
 * why; model loaders check it first (ModelError.requireSupported), so users get an error that
 * says what to install, not a trap.
 *
 * To call another oneDNN function, add one line to CDNNL_FUNCTIONS. */
#include <oneapi/dnnl/dnnl_types.h>

/* X(return type, name, parameters, arguments, value when oneDNN is missing) */
#define CDNNL_FUNCTIONS(X) \
    X(dnnl_status_t, dnnl_engine_create, (dnnl_engine_t *engine, dnnl_engine_kind_t kind, size_t index), (engine, kind, index), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_stream_create, (dnnl_stream_t *stream, dnnl_engine_t engine, unsigned flags), (stream, engine, flags), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_stream_wait, (dnnl_stream_t stream), (stream), dnnl_runtime_error) \
    X(dnnl_cpu_isa_t, dnnl_get_effective_cpu_isa, (void), (), dnnl_cpu_isa_all) \
    X(const dnnl_version_t *, dnnl_version, (void), (), NULL) \
    X(dnnl_status_t, dnnl_matmul_desc_init, (dnnl_matmul_desc_t *matmul_desc, const dnnl_memory_desc_t *src_desc, const dnnl_memory_desc_t *weights_desc, const dnnl_memory_desc_t *bias_desc, const dnnl_memory_desc_t *dst_desc), (matmul_desc, src_desc, weights_desc, bias_desc, dst_desc), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_memory_desc_init_by_tag, (dnnl_memory_desc_t *memory_desc, int ndims, const dnnl_dims_t dims, dnnl_data_type_t data_type, dnnl_format_tag_t tag), (memory_desc, ndims, dims, data_type, tag), dnnl_runtime_error) \
    X(size_t, dnnl_memory_desc_get_size, (const dnnl_memory_desc_t *memory_desc), (memory_desc), 0) \
    X(dnnl_status_t, dnnl_memory_create, (dnnl_memory_t *memory, const dnnl_memory_desc_t *memory_desc, dnnl_engine_t engine, void *handle), (memory, memory_desc, engine, handle), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_memory_destroy, (dnnl_memory_t memory), (memory), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_memory_get_memory_desc, (const_dnnl_memory_t memory, const dnnl_memory_desc_t **memory_desc), (memory, memory_desc), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_memory_set_data_handle, (dnnl_memory_t memory, void *handle), (memory, handle), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_desc_create, (dnnl_primitive_desc_t *primitive_desc, const_dnnl_op_desc_t op_desc, const_dnnl_primitive_attr_t attr, dnnl_engine_t engine, const_dnnl_primitive_desc_t hint_forward_primitive_desc), (primitive_desc, op_desc, attr, engine, hint_forward_primitive_desc), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_desc_destroy, (dnnl_primitive_desc_t primitive_desc), (primitive_desc), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_desc_query, (const_dnnl_primitive_desc_t primitive_desc, dnnl_query_t what, int index, void *result), (primitive_desc, what, index, result), dnnl_runtime_error) \
    X(const dnnl_memory_desc_t *, dnnl_primitive_desc_query_md, (const_dnnl_primitive_desc_t primitive_desc, dnnl_query_t what, int index), (primitive_desc, what, index), NULL) \
    X(dnnl_status_t, dnnl_reorder_primitive_desc_create, (dnnl_primitive_desc_t *reorder_primitive_desc, const dnnl_memory_desc_t *src_desc, dnnl_engine_t src_engine, const dnnl_memory_desc_t *dst_desc, dnnl_engine_t dst_engine, const_dnnl_primitive_attr_t attr), (reorder_primitive_desc, src_desc, src_engine, dst_desc, dst_engine, attr), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_create, (dnnl_primitive_t *primitive, const_dnnl_primitive_desc_t primitive_desc), (primitive, primitive_desc), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_destroy, (dnnl_primitive_t primitive), (primitive), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_execute, (const_dnnl_primitive_t primitive, dnnl_stream_t stream, int nargs, const dnnl_exec_arg_t *args), (primitive, stream, nargs, args), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_create, (dnnl_primitive_attr_t *attr), (attr), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_destroy, (dnnl_primitive_attr_t attr), (attr), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_set_scratchpad_mode, (dnnl_primitive_attr_t attr, dnnl_scratchpad_mode_t mode), (attr, mode), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_set_output_scales, (dnnl_primitive_attr_t attr, dnnl_dim_t count, int mask, const float *scales), (attr, count, mask, scales), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_set_scales, (dnnl_primitive_attr_t attr, int arg, dnnl_dim_t count, int mask, const float *scales), (attr, arg, count, mask, scales), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_set_zero_points, (dnnl_primitive_attr_t attr, int arg, dnnl_dim_t count, int mask, const int32_t *zero_points), (attr, arg, count, mask, zero_points), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_primitive_attr_set_post_ops, (dnnl_primitive_attr_t attr, const_dnnl_post_ops_t post_ops), (attr, post_ops), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_post_ops_create, (dnnl_post_ops_t *post_ops), (post_ops), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_post_ops_destroy, (dnnl_post_ops_t post_ops), (post_ops), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_post_ops_append_eltwise, (dnnl_post_ops_t post_ops, float scale, dnnl_alg_kind_t alg_kind, float alpha, float beta), (post_ops, scale, alg_kind, alpha, beta), dnnl_runtime_error) \
    X(dnnl_status_t, dnnl_post_ops_append_sum, (dnnl_post_ops_t post_ops, float scale), (post_ops, scale), dnnl_runtime_error)


#define CDNNL_POINTER(type, name, parameters, arguments, missing) type(*name) parameters;
typedef struct { CDNNL_FUNCTIONS(CDNNL_POINTER) } cdnnl_function_table;
#undef CDNNL_POINTER

/* The loaded functions (loading libdnnl.so.2 on the first call, thread-safe), or NULL when it
   cannot be loaded. */
const cdnnl_function_table *cdnnl_functions(void);

/* NULL once oneDNN is loaded (loading it now if need be), else why it cannot be. */
const char *cdnnl_load_failure(void);

#define CDNNL_FORWARD(type, name, parameters, arguments, missing) \
    static inline type name parameters { \
        const cdnnl_function_table *table = cdnnl_functions(); \
        if (!table) return missing; \
        return table->name arguments; \
    }
CDNNL_FUNCTIONS(CDNNL_FORWARD)
#undef CDNNL_FORWARD

#endif
