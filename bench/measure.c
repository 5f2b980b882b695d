/*
 * measure — run one command and print what it cost, as one line:
 *
 *   status=exit:0 wall_ms=812.4 user_ms=790.1 sys_ms=20.3 maxrss_kib=8120 other_cpu_ms=40
 *
 * usage: measure [-e NAME=VALUE]... [-o FILE] [-E FILE] [-t SEC] -- command [args...]
 *   -e  add or replace one environment variable for the command only
 *       (LD_PRELOAD goes here, so no wrapper process is timed)
 *   -o  the command's stdout goes to FILE (run.sh compares checksums)
 *   -E  the command's stderr goes to FILE
 *   -t  kill the command's process group after SEC seconds and report
 *       status=timeout (a deadlocked allocator must not hang the suite)
 *
 * Wall time is CLOCK_MONOTONIC from just before fork to just after wait4;
 * user, sys and peak RSS come from wait4's rusage, which covers the child
 * and every descendant it waited for (so heaptrack's interpreter and
 * compressor are counted in CPU time; ru_maxrss is the largest single
 * process among them, not a sum). status is exit:N, signal:NAME or
 * timeout.
 * other_cpu_ms is the CPU time the rest of the machine used while the
 * command ran (busy and steal time from /proc/stat minus the command's
 * own): on a shared machine it tells run.sh which runs were disturbed.
 * It has the kernel tick's granularity (10 ms), so it is -1 when
 * /proc/stat cannot be read.
 * measure itself exits 0 whenever it could run the command, so that a
 * crashing configuration is reported, not fatal to the harness.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

/* The command runs in its own process group so that a timeout also ends
 * whatever it started (heaptrack's interpreter, valgrind's tool). */
static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	kill(-child, SIGKILL);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Busy CPU time of the whole machine so far, in ms; -1 if unknown. Steal
 * counts as busy: it is time the hypervisor gave to someone else. */
static double machine_busy_ms(void)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long v[8] = {0};
	int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
	                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) : 0;
	if (f)
		fclose(f);
	if (n < 8)
		return -1;
	/* user nice system [idle iowait] irq softirq steal */
	unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return busy * 1000.0 / sysconf(_SC_CLK_TCK);
}

static double tv_ms(struct timeval tv)
{
	return tv.tv_sec * 1e3 + tv.tv_usec / 1e3;
}

static void redirect(const char *path, int fd)
{
	int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f < 0 || dup2(f, fd) < 0) {
		fprintf(stderr, "measure: %s: %s\n", path, strerror(errno));
		_exit(127);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: measure [-e NAME=VALUE]... [-o FILE] [-E FILE] -- command [args...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *err = NULL;
	unsigned timeout = 0;
	int opt;
	while ((opt = getopt(argc, argv, "+e:o:E:t:")) != -1) {
		switch (opt) {
		case 'e':
			if (!strchr(optarg, '=') || putenv(optarg) != 0)
				usage();
			break;
		case 'o': out = optarg; break;
		case 'E': err = optarg; break;
		case 't': timeout = (unsigned)atoi(optarg); break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();

	double busy0 = machine_busy_ms();
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (out)
			redirect(out, 1);
		if (err)
			redirect(err, 2);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "measure: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	/* Set the group from both sides: whichever runs first, the kill in
	 * on_alarm finds it. */
	setpgid(pid, pid);
	child = pid;
	if (timeout) {
		struct sigaction sa = { .sa_handler = on_alarm };
		sigaction(SIGALRM, &sa, NULL);
		alarm(timeout);
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("measure: wait4");
			return 1;
		}
	double wall = now_ms() - t0;
	double busy1 = machine_busy_ms();
	alarm(0);
	double own = tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
	double other = busy0 < 0 || busy1 < 0 ? -1 : busy1 - busy0 - own;
	if (busy0 >= 0 && other < 0)
		other = 0;          /* tick granularity */

	char status[64];
	if (timed_out)
		snprintf(status, sizeof status, "timeout");
	else if (WIFSIGNALED(st))
		snprintf(status, sizeof status, "signal:%s", sigabbrev_np(WTERMSIG(st)) ?: "?");
	else
		snprintf(status, sizeof status, "exit:%d", WEXITSTATUS(st));
	printf("status=%s wall_ms=%.1f user_ms=%.1f sys_ms=%.1f maxrss_kib=%ld other_cpu_ms=%.0f\n",
	       status, wall, tv_ms(ru.ru_utime), tv_ms(ru.ru_stime), ru.ru_maxrss, other);
	return 0;
}
