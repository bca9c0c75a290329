// Which oneDNN 2.6 implementation an int8 matmul gets with output scales (runtime or constant),
// a per-row binary multiply, ReLU and sum post-ops, and how fast (issue 13, session 4).
// Modes: 1 runtime output scales per column, 2 binary mul by [rows, 1], 4 ReLU, 8 sum, 16
// constant output scales per column. A `ref` implementation runs once (it is very slow).
// gcc -O2 Scripts/bench/dnnl_int8_postops.c -o /tmp/dnnl_int8_postops -ldnnl && OMP_NUM_THREADS=2 GOMP_SPINCOUNT=1000 /tmp/dnnl_int8_postops 256 512 2048
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define CHECK(x) do { dnnl_status_t s = (x); if (s != dnnl_success) { printf("fail %s: %d\n", #x, s); return; } } while(0)
static double now(){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec*1e-9;}
// mode bits: 1 output scales per N, 2 binary mul per row [M,1], 4 relu, 8 sum (dst accumulates)
void run(dnnl_engine_t eng, dnnl_stream_t st, dnnl_data_type_t sdt, dnnl_data_type_t ddt, int M, int K, int N, int mode){
  dnnl_memory_desc_t a,bany,c,s1;
  dnnl_dims_t ad={M,K}, bd={K,N}, cd={M,N}, s1d={M,1};
  CHECK(dnnl_memory_desc_init_by_tag(&a,2,ad,sdt,dnnl_ab));
  CHECK(dnnl_memory_desc_init_by_tag(&bany,2,bd,dnnl_s8,dnnl_format_tag_any));
  CHECK(dnnl_memory_desc_init_by_tag(&c,2,cd,ddt,dnnl_ab));
  CHECK(dnnl_memory_desc_init_by_tag(&s1,2,s1d,dnnl_f32,dnnl_ab));
  dnnl_matmul_desc_t md; CHECK(dnnl_matmul_desc_init(&md,&a,&bany,NULL,&c));
  dnnl_primitive_attr_t attr; dnnl_primitive_attr_create(&attr);
  float rt = DNNL_RUNTIME_F32_VAL;
  if (mode&1) CHECK(dnnl_primitive_attr_set_output_scales(attr, 1, 1<<1, &rt));
  float *cs = malloc(N*4); for(int i=0;i<N;i++) cs[i]=0.01f;
  if (mode&16) CHECK(dnnl_primitive_attr_set_output_scales(attr, N, 1<<1, cs));
  dnnl_post_ops_t po; dnnl_post_ops_create(&po);
  if (mode&8) CHECK(dnnl_post_ops_append_sum(po, 1.0f));
  if (mode&2) CHECK(dnnl_post_ops_append_binary(po, dnnl_binary_mul, &s1));
  if (mode&4) CHECK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.f, 0.f));
  CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
  dnnl_primitive_desc_t pd;
  CHECK(dnnl_primitive_desc_create(&pd,&md,attr,eng,NULL));
  const char* impl; dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl_primitive_t p; CHECK(dnnl_primitive_create(&p,pd));
  dnnl_memory_t ma,mb,mc,ms,mo; 
  CHECK(dnnl_memory_create(&ma,&a,eng,DNNL_MEMORY_ALLOCATE));
  CHECK(dnnl_memory_create(&mb,wmd,eng,DNNL_MEMORY_ALLOCATE));
  CHECK(dnnl_memory_create(&mc,&c,eng,DNNL_MEMORY_ALLOCATE));
  CHECK(dnnl_memory_create(&ms,&s1,eng,DNNL_MEMORY_ALLOCATE));
  dnnl_memory_desc_t od; dnnl_dims_t odd={N}; dnnl_memory_desc_init_by_tag(&od,1,odd,dnnl_f32,dnnl_a);
  CHECK(dnnl_memory_create(&mo,&od,eng,DNNL_MEMORY_ALLOCATE));
  void *h; dnnl_memory_get_data_handle(ma,&h); memset(h,1,(size_t)M*K);
  dnnl_memory_get_data_handle(mo,&h); for(int i=0;i<N;i++) ((float*)h)[i]=0.01f;
  dnnl_memory_get_data_handle(ms,&h); for(int i=0;i<M;i++) ((float*)h)[i]=0.5f;
  dnnl_exec_arg_t args[6]={{DNNL_ARG_SRC,ma},{DNNL_ARG_WEIGHTS,mb},{DNNL_ARG_DST,mc}};
  int n=3;
  if (mode&1) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_OUTPUT_SCALES, mo};
  if (mode&2) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP((mode&8)?1:0) | DNNL_ARG_SRC_1, ms};
  CHECK(dnnl_primitive_execute(p,st,n,args)); dnnl_stream_wait(st);
  int iters=strstr(impl,"ref")?1:20; double t0=now();
  for(int i=0;i<iters;i++) CHECK(dnnl_primitive_execute(p,st,n,args));
  dnnl_stream_wait(st); double t=(now()-t0)/iters;
  printf("%s->%s mode %2d %dx%dx%d  %.3f ms  %.1f GOP/s  impl=%s\n",sdt==dnnl_u8?"u8":"s8",ddt==dnnl_f32?"f32":"s32",mode,M,K,N,t*1e3,2.0*M*K*N/t/1e9,impl);
}
int main(int argc, char**argv){ setvbuf(stdout,NULL,_IONBF,0);
  dnnl_engine_t eng; dnnl_engine_create(&eng,dnnl_cpu,0);
  dnnl_stream_t st; dnnl_stream_create(&st,eng,dnnl_stream_default_flags);
  int M=atoi(argv[1]),K=atoi(argv[2]),N=atoi(argv[3]);
  for (int r=0;r<3;r++){ printf("round %d\n", r);
  run(eng,st,dnnl_s8,dnnl_s32,M,K,N,0);
  run(eng,st,dnnl_s8,dnnl_f32,M,K,N,1);
  run(eng,st,dnnl_s8,dnnl_f32,M,K,N,16);
  run(eng,st,dnnl_s8,dnnl_f32,M,K,N,16|8);
  run(eng,st,dnnl_s8,dnnl_f32,M,K,N,16|4);
  run(eng,st,dnnl_s8,dnnl_f32,M,K,N,1|8);
  run(eng,st,dnnl_s8,dnnl_f32,M,K,N,1|4);
  run(eng,st,dnnl_u8,dnnl_s32,M,K,N,0);
  }
  return 0;
}
