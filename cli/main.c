/*
 * main.c — heapscope: run a program under the heap checker, or report on
 * a saved trace. The work is in run.c and analysis.c; this only picks
 * the command.
 */
#include "cli.h"
#include "sweep/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		hs_cli_usage(stderr);
		return HS_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0
	    || strcmp(cmd, "help") == 0) {
		hs_cli_usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("heapscope %s\n", HS_VERSION);
		return 0;
	}
	if (strcmp(cmd, "sweep") == 0)
		return hs_cmd_sweep(argc - 1, argv + 1);
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "report") != 0) {
		fprintf(stderr, "heapscope: unknown command '%s' (run, report or sweep; see "
		        "heapscope --help)\n", cmd);
		return HS_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
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
		if (strcmp(cmd, "run") == 0 && argv[i][0] != '-')
			break;             /* the program's own arguments follow */
	}
	struct hs_cli c = { .cmd = cmd };
	int rc = HS_EXIT_USAGE;
	if (hs_cli_parse(&c, argc, argv, 2) == 0)
		rc = strcmp(cmd, "run") == 0 ? hs_cmd_run(&c) : hs_cmd_report(&c);
	/* freed so that heapscope itself checks clean under a leak checker */
	free(c.args);
	free(c.supp_files);
	hs_supps_free(c.supps);
	return rc;
}
