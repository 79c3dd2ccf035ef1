/* POSIX regular expressions (musl's TRE): extended and basic syntax, subexpression
 * offsets, back-references, REG_ICASE, bracket classes and REG_NOMATCH. */
#include <regex.h>
#include <string.h>
#include "probe.h"

static void match(const char *pattern, int flags, const char *subject, const char *want)
{
	regex_t re;
	char got[256] = "", err[128];
	int rc = regcomp(&re, pattern, flags);
	if (rc) {
		regerror(rc, &re, err, sizeof err);
		CHECK(0, "regcomp(%s): %s", pattern, err);
		return;
	}
	regmatch_t m[4];
	rc = regexec(&re, subject, 4, m, 0);
	if (rc == REG_NOMATCH) {
		strcpy(got, "no match");
	} else {
		size_t o = 0;
		for (int i = 0; i < 4 && m[i].rm_so >= 0; i++)
			o += (size_t)snprintf(got + o, sizeof got - o, "%s[%d,%d)'%.*s'", i ? " " : "", (int)m[i].rm_so, (int)m[i].rm_eo,
				(int)(m[i].rm_eo - m[i].rm_so), subject + m[i].rm_so);
	}
	CHECK(strcmp(got, want) == 0, "/%s/ on '%s': %s, expected %s", pattern, subject, got, want);
	SAY("/%s/ on '%s': %s", pattern, subject, got);
	regfree(&re);
}

int main(void)
{
	match("([a-z]+)@([a-z]+)\\.org", REG_EXTENDED, "mail root@alpine.org now", "[5,20)'root@alpine.org' [5,9)'root' [10,16)'alpine'");
	match("^(ab|cd)+$", REG_EXTENDED, "abcdab", "[0,6)'abcdab' [4,6)'ab'");
	match("\\(a*\\)b\\1", 0, "xaabaa", "[1,6)'aabaa' [1,3)'aa'");
	match("HELLO", REG_EXTENDED | REG_ICASE, "say hello", "[4,9)'hello'");
	match("[[:digit:]]{3}-[[:alpha:]]+", REG_EXTENDED, "id 042-abc", "[3,10)'042-abc'");
	match("x{2,3}", REG_EXTENDED, "axxxxb", "[1,4)'xxx'");
	match("^z", REG_EXTENDED, "abc", "no match");

	regex_t re;
	int rc = regcomp(&re, "a(b", REG_EXTENDED);
	CHECK(rc == REG_EPAREN, "unbalanced parenthesis gave %d, expected REG_EPAREN", rc);
	SAY("'a(b' fails to compile: %s", rc == REG_EPAREN ? "REG_EPAREN" : "other");
	return finish();
}
