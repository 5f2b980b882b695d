/*
 * fail_policy.h — `--fail POLICY` checked by the shim's own parser
 * (fail_policy.c). Its own header: the parser's names (HS_FN_MALLOC...)
 * clash with the trace reader's, so it must not see cli.h.
 */
#ifndef HS_CLI_FAIL_POLICY_H
#define HS_CLI_FAIL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* True if the shim would accept the policy; else false with one line
 * naming the term in err. */
bool hs_cli_fail_policy_ok(const char *policy, char *err, size_t cap);

/* The policy grammar, for `heapscope help fail` and `--fail help`. */
void hs_cli_fail_help(FILE *f);

#endif
