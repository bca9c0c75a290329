// The fused inference attention kernel against the sgemm path it replaced (OpenBLAS sgemm
// Q·Kᵀ, bias add and C softmax per row, sgemm P·V, per (batch entry, head)), T5 shape
// (d 64, relative bias, no padding), one thread, per-thread CPU time (so other processes on a
// shared machine change the figures less), best of N, the two alternating in one process.
//
//   clang -O2 -ISources/CKernels/include -ISources/CKernels Scripts/bench/attention_fused_vs_sgemm.c \
//       Sources/CKernels/attention.c Sources/CKernels/softmax.c -lopenblas -lm -o /tmp/attention_bench
//   OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=SkylakeX /tmp/attention_bench BATCH HEADS LENGTH REPEATS
//   (t5-small's shape: 2 8 512 8)
#include "CKernels.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  size_t B=atoi(argv[1]),H=atoi(argv[2]),D=64,Q=atoi(argv[3]),L=Q; int reps=atoi(argv[4]);
  float*q=malloc(4*B*Q*H*D),*k=malloc(4*B*L*H*D),*v=malloc(4*B*L*H*D),*o=malloc(4*B*Q*H*D);
  for(size_t i=0;i<B*Q*H*D;i++){q[i]=(rand()/(float)RAND_MAX-0.5f);k[i]=(rand()/(float)RAND_MAX-0.5f);v[i]=(rand()/(float)RAND_MAX-0.5f);}
  int64_t*vis=malloc(8*B); for(size_t b=0;b<B;b++)vis[b]=L;
  size_t W=Q+L; float*bias=malloc(4*H*W); for(size_t i=0;i<H*W;i++)bias[i]=(rand()/(float)RAND_MAX-0.5f);
  inpars_attention a={B,H,H,D,Q,L,{H*D,Q*H*D,0},{H*D,L*H*D,0},{H*D,L*H*D,0},{H*D,Q*H*D,0},vis,0,0,1.0f,bias,W};
  float*s=malloc(4*Q*L);
  double bf=1e9,bo=1e9; double fl=4.0*B*H*Q*L*D;
  for(int r=0;r<reps;r++){
    double t=now();inpars_attention_forward(&a,q,k,v,o,0,1);t=now()-t;if(t<bf)bf=t;
    t=now();
    for(size_t b=0;b<B;b++)for(size_t h=0;h<H;h++){
      cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,Q,L,D,1,q+b*Q*H*D+h*D,H*D,k+b*L*H*D+h*D,H*D,0,s,L);
      for(size_t i=0;i<Q;i++){float*row=s+i*L;const float*br=bias+h*W+(Q-1-i);for(size_t j=0;j<L;j++)row[j]+=br[j];inpars_softmax_row(row,L);}
      cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,Q,D,L,1,s,L,v+b*L*H*D+h*D,H*D,0,o+b*Q*H*D+h*D,H*D);
    }
    t=now()-t;if(t<bo)bo=t;
  }
  printf("fused %.1f GFLOP/s, sgemm path %.1f GFLOP/s (1 thread, best of %d)\n",fl/bf/1e9,fl/bo/1e9,reps);
}
