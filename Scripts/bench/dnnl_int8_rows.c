// oneDNN int8 matmul throughput by row count at the T5 shapes (issue 13, session 4).
// gcc -O2 Scripts/bench/dnnl_int8_rows.c -o /tmp/dnnl_int8_rows -ldnnl && OMP_NUM_THREADS=2 GOMP_SPINCOUNT=1000 /tmp/dnnl_int8_rows
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec*1e-9;}
double run(dnnl_engine_t eng, dnnl_stream_t st, int M, int K, int N, int total){
  dnnl_memory_desc_t a,bany,c; dnnl_dims_t ad={M,K}, bd={K,N}, cd={M,N};
  dnnl_memory_desc_init_by_tag(&a,2,ad,dnnl_s8,dnnl_ab);
  dnnl_memory_desc_init_by_tag(&bany,2,bd,dnnl_s8,dnnl_format_tag_any);
  dnnl_memory_desc_init_by_tag(&c,2,cd,dnnl_s32,dnnl_ab);
  dnnl_matmul_desc_t md; dnnl_matmul_desc_init(&md,&a,&bany,NULL,&c);
  dnnl_primitive_desc_t pd; dnnl_primitive_desc_create(&pd,&md,NULL,eng,NULL);
  const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl_primitive_t p; dnnl_primitive_create(&p,pd);
  dnnl_memory_t ma,mb,mc;
  dnnl_memory_create(&ma,&a,eng,DNNL_MEMORY_ALLOCATE); dnnl_memory_create(&mb,wmd,eng,DNNL_MEMORY_ALLOCATE); dnnl_memory_create(&mc,&c,eng,DNNL_MEMORY_ALLOCATE);
  dnnl_exec_arg_t args[3]={{DNNL_ARG_SRC,ma},{DNNL_ARG_WEIGHTS,mb},{DNNL_ARG_DST,mc}};
  dnnl_primitive_execute(p,st,3,args); dnnl_stream_wait(st);
  double best=1e9;
  for(int r=0;r<5;r++){ double t0=now(); for(int i=0;i<total/M;i++){ dnnl_primitive_execute(p,st,3,args); dnnl_stream_wait(st);} double t=now()-t0; if(t<best)best=t;}
  return 2.0*total*K*N/best/1e9;
}
int main(int argc,char**argv){ setvbuf(stdout,NULL,_IONBF,0);
  dnnl_engine_t eng; dnnl_engine_create(&eng,dnnl_cpu,0); dnnl_stream_t st; dnnl_stream_create(&st,eng,dnnl_stream_default_flags);
  int shapes[][2]={{512,1536},{512,512},{512,2048},{2048,512},{768,2304},{768,3072},{3072,768}};
  int Ms[]={64,128,256,512,1024,4096};
  for(int s=0;s<7;s++){ printf("K=%d N=%d:",shapes[s][0],shapes[s][1]); for(int m=0;m<6;m++) printf("  M%d %.0f",Ms[m],run(eng,st,Ms[m],shapes[s][0],shapes[s][1],4096)); printf("\n"); }
}
