/* A static binary cannot load libraries, and says so instead of crashing: dlopen returns
 * NULL with a dlerror message. */
#include <dlfcn.h>
#include "probe.h"

int main(void)
{
	void *h = dlopen("libc.so", RTLD_NOW);
	const char *err = dlerror();
	CHECK(h == NULL, "dlopen(libc.so) succeeded in a static binary");
	CHECK(err != NULL, "dlopen failed without a dlerror message");
	SAY("dlopen(libc.so): %s", h ? "loaded" : "NULL");
	SAY("dlerror: %s", err ? "set" : "not set");
	if (err) fprintf(stderr, "dlerror said: %s\n", err);
	h = dlopen("/no/such/library.so", RTLD_LAZY);
	CHECK(h == NULL && dlerror() != NULL, "dlopen of a missing path");
	SAY("dlopen(/no/such/library.so): NULL");
	return finish();
}
