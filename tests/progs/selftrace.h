/*
 * selftrace.h — lets a test program describe its own call stack the way
 * the shim's trace does (`M` lines for every loaded object, one `S` line),
 * so analyzer tests can check symbolization against a real binary without
 * depending on the recorder. Used by symtarget.c and symtarget_cc.cc.
 *
 * selftrace_print() prints the M lines, then "S 1 n ip..." for the stack
 * of its caller (innermost first, return addresses, as unw_backtrace
 * gives them), to stdout.
 */
#ifndef SELFTRACE_H
#define SELFTRACE_H

#include <elf.h>
#include <execinfo.h>
#include <link.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int selftrace_module(struct dl_phdr_info *info, size_t size, void *data)
{
	int *id = (int *)data;
	unsigned long lo = ~0ul, hi = 0;
	char build_id[130] = "-";
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			unsigned long s = info->dlpi_addr + ph->p_vaddr;
			if (s < lo) lo = s;
			if (s + ph->p_memsz > hi) hi = s + ph->p_memsz;
		}
		if (ph->p_type == PT_NOTE) {
			const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
			const char *end = p + ph->p_memsz;
			while (p + sizeof(ElfW(Nhdr)) <= end) {
				const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
				const char *name = p + sizeof *n;
				const unsigned char *desc = (const unsigned char *)
					name + ((n->n_namesz + 3) & ~3u);
				if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4
				    && memcmp(name, "GNU", 4) == 0 && n->n_descsz <= 64) {
					for (unsigned k = 0; k < n->n_descsz; k++)
						sprintf(build_id + 2 * k, "%02x", desc[k]);
				}
				p = (const char *)desc + ((n->n_descsz + 3) & ~3u);
			}
		}
	}
	if (!hi)
		return 0;
	char path[PATH_MAX];
	const char *name = info->dlpi_name;
	if (!name || !name[0]) {
		ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
		path[n > 0 ? n : 0] = 0;
		name = path;
	}
	printf("M %d %lx %lx %lx %s %s\n", (*id)++, (unsigned long)info->dlpi_addr,
	       lo, hi, build_id, name);
	return 0;
}

__attribute__((noinline)) static void selftrace_print(void)
{
	void *ips[64];
	int n = backtrace(ips, 64);
	int id = 1;
	dl_iterate_phdr(selftrace_module, &id);
	/* frame 0 is inside selftrace_print: the stack starts at the caller's
	 * call, as the shim's stacks start at the program's call to malloc */
	printf("S 1 %d", n - 1);
	for (int i = 1; i < n; i++)
		printf(" %lx", (unsigned long)ips[i]);
	printf("\n");
}

#endif
