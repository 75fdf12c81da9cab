/* x86_64: every locked instruction is a full barrier and plain loads and
 * stores already have acquire and release order (TSO), so only the compiler
 * must be kept from reordering around them. */

#define a_load a_load
static inline uint32_t a_load(const uint32_t *p)
{
	uint32_t v = *(const volatile uint32_t *)p;
	__asm__ __volatile__ ("" ::: "memory");
	return v;
}

#define a_load_relaxed a_load_relaxed
static inline uint32_t a_load_relaxed(const uint32_t *p)
{ return *(const volatile uint32_t *)p; }

#define a_store a_store
static inline void a_store(uint32_t *p, uint32_t v)
{
	__asm__ __volatile__ ("" ::: "memory");
	*(volatile uint32_t *)p = v;
}

#define a_cas a_cas
static inline uint32_t a_cas(uint32_t *p, uint32_t expected, uint32_t desired)
{
	__asm__ __volatile__ ("lock ; cmpxchg %3, %1"
		: "=a"(expected), "=m"(*p) : "a"(expected), "r"(desired) : "memory");
	return expected;
}

#define a_swap a_swap
static inline uint32_t a_swap(uint32_t *p, uint32_t v)
{
	__asm__ __volatile__ ("xchg %0, %1" : "=r"(v), "=m"(*p) : "0"(v) : "memory");
	return v;
}

#define a_fetch_add a_fetch_add
static inline uint32_t a_fetch_add(uint32_t *p, uint32_t v)
{
	__asm__ __volatile__ ("lock ; xadd %0, %1" : "=r"(v), "=m"(*p) : "0"(v) : "memory");
	return v;
}

#define a_load64 a_load64
static inline uint64_t a_load64(const uint64_t *p)
{
	uint64_t v = *(const volatile uint64_t *)p;
	__asm__ __volatile__ ("" ::: "memory");
	return v;
}

#define a_cas64 a_cas64
static inline uint64_t a_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
	__asm__ __volatile__ ("lock ; cmpxchg %3, %1"
		: "=a"(expected), "=m"(*p) : "a"(expected), "r"(desired) : "memory");
	return expected;
}

#define a_fetch_add64 a_fetch_add64
static inline uint64_t a_fetch_add64(uint64_t *p, uint64_t v)
{
	__asm__ __volatile__ ("lock ; xadd %0, %1" : "=r"(v), "=m"(*p) : "0"(v) : "memory");
	return v;
}

#define a_spin a_spin
static inline void a_spin(void)
{ __asm__ __volatile__ ("pause" ::: "memory"); }

#define a_cycles a_cycles
static inline uint64_t a_cycles(void)
{
	uint32_t lo, hi;
	__asm__ __volatile__ ("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
