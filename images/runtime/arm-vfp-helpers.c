/*
 * The few libgcc routines that take floating-point arguments outside the AEABI helper set,
 * built with the hard-float (VFP) calling convention of Alpine's armhf. Debian's armel
 * libgcc supplies every other routine: its __aeabi_* helpers use the base procedure call
 * standard on every ARM EABI platform, hard-float or not, so they serve armhf code as they
 * are. Complex multiply and divide follow C11 Annex G, example G.5.1 (infinities recovered
 * from NaN results), as libgcc's and compiler-rt's do. libgcc links after libc, so nothing
 * here calls libc: logb and scalbn are done on the bits of a double.
 */
typedef unsigned long long u64;

static double from_bits(u64 u) { union { u64 u; double d; } v = { u }; return v.d; }
static u64 to_bits(double d) { union { double d; u64 u; } v = { d }; return v.u; }

/* logb for the scaling below: the unbiased exponent (subnormals read as -1023), -inf for 0. */
static double exponent_of(double x) {
  int biased = (int)((to_bits(x) >> 52) & 0x7ff);
  if (biased == 0x7ff) return x * x;
  if (x == 0) return -__builtin_inf();
  return biased - 1023;
}

/* x * 2^n, in steps that stay within the normal range. */
static double scale_by(double x, int n) {
  while (n > 1000) { x *= from_bits((u64)(1000 + 1023) << 52); n -= 1000; }
  while (n < -1000) { x *= from_bits((u64)(-1000 + 1023) << 52); n += 1000; }
  return x * from_bits((u64)(n + 1023) << 52);
}

static float exponent_of_f(float x) { return (float)exponent_of(x); }
static float scale_by_f(float x, int n) { return (float)scale_by(x, n); }
#define HELPERS(T, MUL, DIV, POWI, INF, LOGB, SCALBN)                                                  \
  static int isnan_##T(T x) { return x != x; }                                                        \
  static int isinf_##T(T x) { return !isnan_##T(x) && isnan_##T(x - x); }                             \
  static int finite_##T(T x) { return !isnan_##T(x - x); }                                            \
  static T copysign_##T(T to, T from) { return __builtin_signbit(from) == __builtin_signbit(to) ? to : -to; } \
  static T fabs_##T(T x) { return __builtin_signbit(x) ? -x : x; }                                    \
  static T box_##T(T x) { return copysign_##T(isinf_##T(x) ? 1 : 0, x); }                             \
  static T zero_nan_##T(T x) { return isnan_##T(x) ? copysign_##T(0, x) : x; }                        \
                                                                                                      \
  _Complex T MUL(T a, T b, T c, T d) {                                                                \
    T ac = a * c, bd = b * d, ad = a * d, bc = b * c;                                                 \
    T x = ac - bd, y = ad + bc;                                                                       \
    if (isnan_##T(x) && isnan_##T(y)) {                                                               \
      int recalc = 0;                                                                                 \
      if (isinf_##T(a) || isinf_##T(b)) {                                                             \
        a = box_##T(a); b = box_##T(b); c = zero_nan_##T(c); d = zero_nan_##T(d); recalc = 1;          \
      }                                                                                               \
      if (isinf_##T(c) || isinf_##T(d)) {                                                             \
        c = box_##T(c); d = box_##T(d); a = zero_nan_##T(a); b = zero_nan_##T(b); recalc = 1;          \
      }                                                                                               \
      if (!recalc && (isinf_##T(ac) || isinf_##T(bd) || isinf_##T(ad) || isinf_##T(bc))) {           \
        a = zero_nan_##T(a); b = zero_nan_##T(b); c = zero_nan_##T(c); d = zero_nan_##T(d); recalc = 1; \
      }                                                                                               \
      if (recalc) { x = INF * (a * c - b * d); y = INF * (a * d + b * c); }                           \
    }                                                                                                 \
    _Complex T z;                                                                                     \
    __real__ z = x;                                                                                   \
    __imag__ z = y;                                                                                   \
    return z;                                                                                         \
  }                                                                                                   \
                                                                                                      \
  _Complex T DIV(T a, T b, T c, T d) {                                                                \
    int ilogbw = 0;                                                                                   \
    T logbw = LOGB(fabs_##T(c) > fabs_##T(d) ? fabs_##T(c) : fabs_##T(d));                            \
    if (finite_##T(logbw)) { ilogbw = (int)logbw; c = SCALBN(c, -ilogbw); d = SCALBN(d, -ilogbw); }   \
    T denom = c * c + d * d;                                                                          \
    T x = SCALBN((a * c + b * d) / denom, -ilogbw);                                                   \
    T y = SCALBN((b * c - a * d) / denom, -ilogbw);                                                   \
    if (isnan_##T(x) && isnan_##T(y)) {                                                               \
      if (denom == 0 && (!isnan_##T(a) || !isnan_##T(b))) {                                           \
        x = copysign_##T(INF, c) * a; y = copysign_##T(INF, c) * b;                                   \
      } else if ((isinf_##T(a) || isinf_##T(b)) && finite_##T(c) && finite_##T(d)) {                  \
        a = box_##T(a); b = box_##T(b); x = INF * (a * c + b * d); y = INF * (b * c - a * d);         \
      } else if (isinf_##T(logbw) && logbw > 0 && finite_##T(a) && finite_##T(b)) {                   \
        c = box_##T(c); d = box_##T(d); x = 0 * (a * c + b * d); y = 0 * (b * c - a * d);             \
      }                                                                                               \
    }                                                                                                 \
    _Complex T z;                                                                                     \
    __real__ z = x;                                                                                   \
    __imag__ z = y;                                                                                   \
    return z;                                                                                         \
  }                                                                                                   \
                                                                                                      \
  T POWI(T x, int n) {                                                                                \
    unsigned m = n < 0 ? -(unsigned)n : (unsigned)n;                                                  \
    T r = m % 2 ? x : 1;                                                                              \
    while (m /= 2) {                                                                                  \
      x = x * x;                                                                                      \
      if (m % 2) r = r * x;                                                                           \
    }                                                                                                 \
    return n < 0 ? 1 / r : r;                                                                         \
  }

HELPERS(float, __mulsc3, __divsc3, __powisf2, __builtin_inff(), exponent_of_f, scale_by_f)
HELPERS(double, __muldc3, __divdc3, __powidf2, __builtin_inf(), exponent_of, scale_by)
