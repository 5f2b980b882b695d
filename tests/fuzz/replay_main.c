/*
 * replay_main.c — a main() for the fuzz harnesses without libFuzzer:
 * runs LLVMFuzzerTestOneInput once per file named on the command line.
 * Built with gcc -fsanitize=address,undefined by tests/e2e/fuzz_regress.sh
 * so the saved crash inputs are replayed in `make check` on machines
 * without clang; a sanitizer report aborts with a non-zero status.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			return 2;
		}
		size_t cap = 4096, n = 0;
		uint8_t *buf = malloc(cap);
		size_t got;
		while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
			n += got;
			if (n == cap)
				buf = realloc(buf, cap *= 2);
		}
		fclose(f);
		if (!buf) {
			fprintf(stderr, "%s: out of memory\n", argv[i]);
			return 2;
		}
		/* An exact-size copy: ASan must see a read one past the input. */
		uint8_t *exact = malloc(n ? n : 1);
		for (size_t k = 0; k < n; k++)
			exact[k] = buf[k];
		free(buf);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
		printf("ok %s (%zu bytes)\n", argv[i], n);
	}
	return 0;
}
