/* A static musl binary asks for no loader and no library: its own ELF headers, read
 * through /proc/self/exe, carry no PT_INTERP and no DT_NEEDED. */
#include <elf.h>
#include <stdint.h>
#include <string.h>
#include "probe.h"

#if UINTPTR_MAX > 0xffffffffu
typedef Elf64_Ehdr Ehdr; typedef Elf64_Phdr Phdr; typedef Elf64_Dyn Dyn;
#define OUR_CLASS ELFCLASS64
#else
typedef Elf32_Ehdr Ehdr; typedef Elf32_Phdr Phdr; typedef Elf32_Dyn Dyn;
#define OUR_CLASS ELFCLASS32
#endif

int main(void)
{
	FILE *f = fopen("/proc/self/exe", "rb");
	REQUIRE(f != NULL, "cannot open /proc/self/exe (is /proc mounted?)");
	Ehdr eh;
	REQUIRE(fread(&eh, sizeof eh, 1, f) == 1, "short read of the ELF header");
	REQUIRE(memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0, "/proc/self/exe is not ELF");
	CHECK(eh.e_ident[EI_CLASS] == OUR_CLASS, "ELF class %d does not match the pointer size", eh.e_ident[EI_CLASS]);
	CHECK(eh.e_type == ET_EXEC || eh.e_type == ET_DYN, "e_type %d is not an executable", eh.e_type);

	int interp = 0, needed = 0, dynamic = 0, loads = 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		Phdr ph;
		REQUIRE(fseek(f, (long)(eh.e_phoff + (size_t)i * eh.e_phentsize), SEEK_SET) == 0 && fread(&ph, sizeof ph, 1, f) == 1,
			"cannot read program header %d", i);
		if (ph.p_type == PT_LOAD) loads++;
		if (ph.p_type == PT_INTERP) interp++;
		if (ph.p_type != PT_DYNAMIC) continue;
		/* A static PIE keeps PT_DYNAMIC for its own relocations, but must need nothing. */
		dynamic++;
		for (size_t off = 0; off + sizeof(Dyn) <= ph.p_filesz; off += sizeof(Dyn)) {
			Dyn d;
			REQUIRE(fseek(f, (long)(ph.p_offset + off), SEEK_SET) == 0 && fread(&d, sizeof d, 1, f) == 1, "cannot read the dynamic section");
			if (d.d_tag == DT_NULL) break;
			if (d.d_tag == DT_NEEDED) needed++;
		}
	}
	fclose(f);
	CHECK(loads > 0, "no PT_LOAD segment");
	CHECK(interp == 0, "PT_INTERP present: the binary asks for a dynamic loader");
	CHECK(needed == 0, "%d DT_NEEDED entries: the binary needs shared libraries", needed);
	SAY("elf: %s", eh.e_type == ET_EXEC ? "static executable" : "static PIE");
	SAY("PT_INTERP: %d", interp);
	SAY("DT_NEEDED: %d", needed);
	return finish();
}
