/* aarch64 (ARMv8.0, no LSE assumed): load-acquire/store-release exclusives.
 * An ldaxr/stlxr loop is acquire+release; with ldar for plain loads that is
 * the RCsc order every protocol in lib/ relies on (see docs/design.md). */

#define a_ll a_ll
static inline uint32_t a_ll(uint32_t *p)
{
	uint32_t v;
	__asm__ __volatile__ ("ldaxr %w0, %1" : "=r"(v) : "Q"(*p) : "memory");
	return v;
}

#define a_sc a_sc
static inline int a_sc(uint32_t *p, uint32_t v)
{
	uint32_t failed;
	__asm__ __volatile__ ("stlxr %w0, %w2, %1" : "=&r"(failed), "=Q"(*p) : "r"(v) : "memory");
	return !failed;
}

#define a_ll64 a_ll64
static inline uint64_t a_ll64(uint64_t *p)
{
	uint64_t v;
	__asm__ __volatile__ ("ldaxr %0, %1" : "=r"(v) : "Q"(*p) : "memory");
	return v;
}

#define a_sc64 a_sc64
static inline int a_sc64(uint64_t *p, uint64_t v)
{
	uint32_t failed;
	__asm__ __volatile__ ("stlxr %w0, %2, %1" : "=&r"(failed), "=Q"(*p) : "r"(v) : "memory");
	return !failed;
}

#define a_clear_exclusive a_clear_exclusive
static inline void a_clear_exclusive(void)
{ __asm__ __volatile__ ("clrex" ::: "memory"); }

#define a_load a_load
static inline uint32_t a_load(const uint32_t *p)
{
	uint32_t v;
	__asm__ __volatile__ ("ldar %w0, %1" : "=r"(v) : "Q"(*p) : "memory");
	return v;
}

#define a_load_relaxed a_load_relaxed
static inline uint32_t a_load_relaxed(const uint32_t *p)
{ return *(const volatile uint32_t *)p; }

#define a_store a_store
static inline void a_store(uint32_t *p, uint32_t v)
{ __asm__ __volatile__ ("stlr %w1, %0" : "=Q"(*p) : "r"(v) : "memory"); }

#define a_load64 a_load64
static inline uint64_t a_load64(const uint64_t *p)
{
	uint64_t v;
	__asm__ __volatile__ ("ldar %0, %1" : "=r"(v) : "Q"(*p) : "memory");
	return v;
}

#define a_spin a_spin
static inline void a_spin(void)
{ __asm__ __volatile__ ("isb" ::: "memory"); }

#define a_cycles a_cycles
static inline uint64_t a_cycles(void)
{
	uint64_t v;
	__asm__ __volatile__ ("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
	return v;
}
