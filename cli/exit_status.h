/*
 * exit_status.h — the exit statuses of the heapscope command itself, for
 * every subcommand (cli/, cli/sweep/); documented in README.md.
 */
#ifndef HS_EXIT_STATUS_H
#define HS_EXIT_STATUS_H

/* Exit codes of heapscope itself (the program's own status is passed
 * through by `run`). */
#define HS_EXIT_TRACE   1     /* trace unreadable or damaged; internal failure */
#define HS_EXIT_USAGE   2     /* bad option, value or suppression file        */
#define HS_EXIT_NOEXEC  126   /* program found but could not be executed      */
#define HS_EXIT_NOTFOUND 127  /* program not found (as a shell says)          */

#endif
