/*
 * SecuMailer tests — an LD_PRELOAD shim that makes fsync() and
 * fdatasync() fail with EIO while the file named by $SMD_FAIL_SYNC exists:
 * a disk that cannot make data durable (test-attacks.py). The daemon must
 * then answer 4xx, never 250. With $SMD_SYNC_LOG it also appends the path
 * of the file of every sync asked for (failed or not) to that file, a line
 * each: what is flushed and when (test-crash.py, test-attacks.py). While
 * the file named by $SMD_SLOW_SYNC exists, every sync takes a second more:
 * a slow disk, whose commits are late (test-dbus.py). While the file named
 * by $SMD_FULL_WAL exists, writes to SQLite's write-ahead logs (*-wal) fail
 * with ENOSPC: a full disk, on which no commit gets through (test-crash.py).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE
/* pwrite() and pwrite64() both defined here: not one as the other's alias */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
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

/* whether a write to @fd is to be refused as if the disk were full */
static int
full(int fd)
{
	char link[64], path[4096];
	ssize_t n;

	if (!flagged("SMD_FULL_WAL"))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 4)
		return 0;
	path[n] = '\0';
	return strcmp(path + n - 4, "-wal") == 0;
}

ssize_t
pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	if (real == NULL)
		real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
	return real(fd, buf, count, offset);
}

ssize_t
pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	if (real == NULL)
		real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	return real(fd, buf, count, offset);
}

ssize_t
write(int fd, const void *buf, size_t count)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (full(fd)) {
		errno = ENOSPC;
		return -1;
	}
	if (real == NULL)
		real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	return real(fd, buf, count);
}
