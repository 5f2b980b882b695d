/*
 * main.c — heapscope: run a program under the heap checker, or report on
 * a saved trace. The work is in run.c and analysis.c; this only picks
 * the command.
 *
 * Without a subcommand heapscope takes valgrind's command line, so that
 * it replaces `valgrind` in a script word for word: `heapscope
 * [valgrind options] [--] PROG [ARGS]` is `heapscope run` with valgrind's
 * defaults (valgrind_opts.c). The first word is the program when it is a
 * path or a command found in PATH; any other word is an unknown command.
 */
#include "cli.h"
#include "fail_policy.h"
#include "sweep/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		hs_cli_usage(stderr);
		return HS_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (is_help(cmd)) {
		if (argc > 2 && strcmp(argv[2], "fail") == 0)
			hs_cli_fail_help(stdout);       /* the policy grammar */
		else
			hs_cli_usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("heapscope %s\n", HS_VERSION);
		return 0;
	}
	if (strcmp(cmd, "sweep") == 0)
		return hs_cmd_sweep(argc - 1, argv + 1);
	struct hs_cli c = { .cmd = cmd };
	int first = 2;
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "report") != 0) {
		if (cmd[0] != '-' && !hs_vg_is_program(cmd)) {
			fprintf(stderr, "heapscope: unknown command '%s' (run, report or sweep, "
			        "or a program to run; see heapscope --help)\n", cmd);
			return HS_EXIT_USAGE;
		}
		c.cmd = "run";              /* valgrind's form */
		c.valgrind = true;
		first = 1;
	}
	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0) {
			hs_cli_usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("heapscope %s\n", HS_VERSION);
			return 0;
		}
		if (strcmp(c.cmd, "run") == 0 && argv[i][0] != '-')
			break;             /* the program's own arguments follow */
	}
	int rc = HS_EXIT_USAGE;
	if (hs_cli_parse(&c, argc, argv, first) == 0)
		rc = strcmp(c.cmd, "run") == 0 ? hs_cmd_run(&c) : hs_cmd_report(&c);
	hs_vg_cleanup(&c);
	/* freed so that heapscope itself checks clean under a leak checker */
	hs_cli_free(&c);
	return rc;
}
