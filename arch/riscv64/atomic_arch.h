/* riscv64 (RV64GC): native AMOs for swap/add/or, lr/sc for compare-and-swap,
 * all with .aqrl; loads and stores are fenced to acquire/release order. */

#define a_cas a_cas
static inline uint32_t a_cas(uint32_t *p, uint32_t expected, uint32_t desired)
{
	uint32_t old, failed;
	__asm__ __volatile__ (
		"1: lr.w.aqrl %0, (%2)\n"
		"   bne %0, %3, 2f\n"
		"   sc.w.rl %1, %4, (%2)\n"
		"   bnez %1, 1b\n"
		"2:"
		: "=&r"(old), "=&r"(failed) : "r"(p), "r"((int32_t)expected), "r"(desired) : "memory");
	return old;
}

#define a_swap a_swap
static inline uint32_t a_swap(uint32_t *p, uint32_t v)
{
	uint32_t old;
	__asm__ __volatile__ ("amoswap.w.aqrl %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
	return old;
}

#define a_fetch_add a_fetch_add
static inline uint32_t a_fetch_add(uint32_t *p, uint32_t v)
{
	uint32_t old;
	__asm__ __volatile__ ("amoadd.w.aqrl %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
	return old;
}

#define a_fetch_or a_fetch_or
static inline uint32_t a_fetch_or(uint32_t *p, uint32_t v)
{
	uint32_t old;
	__asm__ __volatile__ ("amoor.w.aqrl %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
	return old;
}

#define a_load a_load
static inline uint32_t a_load(const uint32_t *p)
{
	uint32_t v = *(const volatile uint32_t *)p;
	__asm__ __volatile__ ("fence r, rw" ::: "memory");
	return v;
}

#define a_load_relaxed a_load_relaxed
static inline uint32_t a_load_relaxed(const uint32_t *p)
{ return *(const volatile uint32_t *)p; }

#define a_store a_store
static inline void a_store(uint32_t *p, uint32_t v)
{
	__asm__ __volatile__ ("fence rw, w" ::: "memory");
	*(volatile uint32_t *)p = v;
}

#define a_cas64 a_cas64
static inline uint64_t a_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
	uint64_t old;
	uint32_t failed;
	__asm__ __volatile__ (
		"1: lr.d.aqrl %0, (%2)\n"
		"   bne %0, %3, 2f\n"
		"   sc.d.rl %1, %4, (%2)\n"
		"   bnez %1, 1b\n"
		"2:"
		: "=&r"(old), "=&r"(failed) : "r"(p), "r"(expected), "r"(desired) : "memory");
	return old;
}

#define a_fetch_add64 a_fetch_add64
static inline uint64_t a_fetch_add64(uint64_t *p, uint64_t v)
{
	uint64_t old;
	__asm__ __volatile__ ("amoadd.d.aqrl %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
	return old;
}

#define a_load64 a_load64
static inline uint64_t a_load64(const uint64_t *p)
{
	uint64_t v = *(const volatile uint64_t *)p;
	__asm__ __volatile__ ("fence r, rw" ::: "memory");
	return v;
}

/* The Zihintpause "pause" hint; it is a FENCE encoding that older cores
 * execute as a no-op. */
#define a_spin a_spin
static inline void a_spin(void)
{ __asm__ __volatile__ (".insn i 0x0F, 0, x0, x0, 0x010" ::: "memory"); }

#define a_cycles a_cycles
static inline uint64_t a_cycles(void)
{
	uint64_t v;
	__asm__ __volatile__ ("rdtime %0" : "=r"(v));
	return v;
}
