/*
 * proot-view-root.so: an LD_PRELOAD interposer loaded into the PRoot process only.
 *
 * The agent hands PRoot the target's root as an inherited descriptor, `-r /proc/self/fd/N/`.
 * PRoot canonicalizes its -r argument with realpath(3), which follows the magic link: for a
 * container started with pivot_root (every runc/containerd container), /proc/<pid>/root and the
 * descriptor read back as "/", so the guest root would silently become the scanner's own root.
 * PRoot 5.1.0 has no option to skip that, and patching PRoot is not possible where the scanner
 * image is built (its source package is not available), so this library returns exactly the
 * configured view-root string unchanged and leaves every other call to the real realpath.
 * PRoot then translates guest paths to /proc/self/fd/N/<path>, which the kernel resolves in
 * whichever process performs the system call (the tracees inherit descriptor N).
 *
 * It also moves PRoot's temporary files (its glue directory, its extracted loader, the short
 * names of long socket paths) out of the scanner's /tmp: PRoot 5.1.0 names every one of them
 * talloc_asprintf(ctx, "%s/%s-%d-XXXXXX", P_tmpdir, prefix, getpid()) with P_tmpdir ("/tmp")
 * compiled in, ignoring PROOT_TMP_DIR (later versions honour it). That one format with "/tmp"
 * gets SIDESCAN_PROOT_TMP_DIR (the scan's scratch directory) instead, so the view's Landlock
 * ruleset can leave the scanner's /tmp read-only. Every other call passes unchanged.
 *
 * SIDESCAN_PROOT_VIEW_ROOT names the string, SIDESCAN_PROOT_TMP_DIR the directory. A constructor
 * copies them and removes them and LD_PRELOAD from the environment before PRoot starts, so the
 * programs PRoot runs neither load this library nor see the variables.
 *
 * Build: cc -O2 -Wall -shared -fPIC -o proot-view-root.so proot-view-root.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static char *view_root;
static char *tmp_dir;

static char *absolute_setting(const char *name)
{
	const char *value = getenv(name);
	char *copy = NULL;
	if (value != NULL && value[0] == '/' && strlen(value) < PATH_MAX)
		copy = strdup(value);
	unsetenv(name);
	return copy;
}

__attribute__((constructor)) static void sidescan_view_root_init(void)
{
	view_root = absolute_setting("SIDESCAN_PROOT_VIEW_ROOT");
	tmp_dir = absolute_setting("SIDESCAN_PROOT_TMP_DIR");
	unsetenv("LD_PRELOAD");
}

static int is_view_root(const char *path)
{
	return view_root != NULL && path != NULL && strcmp(path, view_root) == 0;
}

static char *unchanged(const char *path, char *resolved)
{
	if (resolved == NULL)
		return strdup(path);
	/* realpath(3): a caller's buffer holds PATH_MAX bytes; the string is shorter (checked). */
	strcpy(resolved, path);
	return resolved;
}

char *realpath(const char *path, char *resolved)
{
	static char *(*real_realpath)(const char *, char *);
	if (is_view_root(path))
		return unchanged(path, resolved);
	if (real_realpath == NULL)
		real_realpath = (char *(*)(const char *, char *))dlsym(RTLD_NEXT, "realpath");
	return real_realpath(path, resolved);
}

/* The _FORTIFY_SOURCE variant a caller compiled with fortification uses. */
char *__realpath_chk(const char *path, char *resolved, size_t resolved_len)
{
	static char *(*real_chk)(const char *, char *, size_t);
	if (is_view_root(path) && (resolved == NULL || strlen(path) < resolved_len))
		return unchanged(path, resolved);
	if (real_chk == NULL)
		real_chk = (char *(*)(const char *, char *, size_t))dlsym(RTLD_NEXT, "__realpath_chk");
	return real_chk(path, resolved, resolved_len);
}

/* PRoot 5.1.0's temporary names (src/path/temp.c, create_temp_name). */
#define TEMP_NAME_FORMAT "%s/%s-%d-XXXXXX"

typedef char *(*vasprintf_fn)(const void *, const char *, va_list);

static char *call_vasprintf(vasprintf_fn f, const void *ctx, const char *fmt, ...)
{
	va_list ap;
	char *result;
	va_start(ap, fmt);
	result = f(ctx, fmt, ap);
	va_end(ap);
	return result;
}

char *talloc_asprintf(const void *ctx, const char *fmt, ...)
{
	static vasprintf_fn real_vasprintf;
	va_list ap;
	char *result;
	if (real_vasprintf == NULL)
		real_vasprintf = (vasprintf_fn)dlsym(RTLD_NEXT, "talloc_vasprintf");
	if (real_vasprintf == NULL)
		return NULL;
	va_start(ap, fmt);
	if (tmp_dir != NULL && fmt != NULL && strcmp(fmt, TEMP_NAME_FORMAT) == 0) {
		const char *dir = va_arg(ap, const char *);
		const char *prefix = va_arg(ap, const char *);
		int pid = va_arg(ap, int);
		va_end(ap);
		if (dir != NULL && strcmp(dir, "/tmp") == 0)
			dir = tmp_dir;
		return call_vasprintf(real_vasprintf, ctx, fmt, dir, prefix, pid);
	}
	result = real_vasprintf(ctx, fmt, ap);
	va_end(ap);
	return result;
}
