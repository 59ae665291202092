/*
 * SecuMailer tests — an LD_PRELOAD shim that makes fsync() and
 * fdatasync() fail with EIO while the file named by $SMD_FAIL_SYNC exists:
 * a disk that cannot make data durable (test-attacks.py). The daemon must
 * then answer 4xx, never 250. With $SMD_SYNC_LOG it also appends the path
 * of the file of every sync asked for (failed or not) to that file, a line
 * each: what is flushed and when (test-crash.py, test-attacks.py). While
 * the file named by $SMD_SLOW_SYNC exists, every sync takes a second more:
 * a slow disk, whose commits are late (test-dbus.py).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void
log_sync(int fd)
{
	const char *log = getenv("SMD_SYNC_LOG");
	char link[64], line[4096];
	int saved = errno; /* the caller sees the real call's errno */
	ssize_t n;
	int out;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = log != NULL ? readlink(link, line, sizeof(line) - 1) : -1;
	/* one write() of one line with O_APPEND: lines of threads never mix */
	out = n >= 0 ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (out >= 0) {
		line[n++] = '\n';
		n = write(out, line, (size_t)n); /* a test's log: a short write shows in it */
		close(out);
	}
	errno = saved;
}

static int
flagged(const char *name)
{
	const char *flag = getenv(name);
	return flag != NULL && access(flag, F_OK) == 0;
}

static int
failing(void)
{
	if (flagged("SMD_SLOW_SYNC"))
		sleep(1);
	return flagged("SMD_FAIL_SYNC");
}

int
fsync(int fd)
{
	static int (*real)(int);
	log_sync(fd);
	if (failing()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}

int
fdatasync(int fd)
{
	static int (*real)(int);
	log_sync(fd);
	if (failing()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}
