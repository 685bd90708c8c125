/*
 * Which of fastinit's x86-64 kernel levels the running CPU (and operating system) supports:
 * 0 baseline, 1 avx2 (AVX2 + FMA + F16C), 2 avx512 (AVX-512 F, DQ, BW, VL, and the avx2 set).
 * GCC's and clang's __builtin_cpu_supports also check that the OS saves the wide registers
 * (XGETBV), so a level reported here can run.  Other compilers and architectures report the
 * baseline only.
 */
#ifndef FASTINIT_CPU_H
#define FASTINIT_CPU_H

static inline int fastinit_cpu_level(void)
{
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
        && __builtin_cpu_supports("f16c"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
        && __builtin_cpu_supports("f16c"))
        return 1;
#endif
    return 0;
}

#endif /* FASTINIT_CPU_H */
