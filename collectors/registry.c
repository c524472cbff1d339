/* The one table of collectors: adding a topic is one file and one line. */
#include <string.h>
#include <unistd.h>

#include "collector.h"
#include "containers.h"
#include "cpu.h"
#include "disk.h"
#include "file.h"
#include "fs.h"
#include "gpu.h"
#include "health.h"
#include "host.h"
#include "journal.h"
#include "load.h"
#include "mem.h"
#include "net.h"
#include "proc.h"
#include "procfs.h"
#include "psi.h"
#include "svc.h"
#include "temp.h"
#include "units.h"

const struct collector *const collector_registry[] = {
    &cpu_collector,     &mem_collector,    &load_collector,
    &psi_collector,     &net_collector,    &disk_collector,
    &journal_collector, &file_collector,   &units_collector,
    &proc_collector,    &svc_collector,    &fs_collector,
    &temp_collector,    &host_collector,   &containers_collector,
    &gpu_collector,     &health_collector, NULL,
};

int collector_topic(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; collector_registry[i]; i++) {
		if (strcmp(collector_registry[i]->name, name) == 0)
			return (int)i;
	}
	return -1;
}

void collector_watch_open(struct collector_watch *w, const struct collector_env *env,
			  const char *path)
{
	w->id = env->watch && env->watch_gen ? env->watch(env, path) : -1;
	w->fd = w->id < 0 ? procfs_watch_open(env->proc_fd, path) : -1;
	w->seen = w->id < 0 ? 0 : env->watch_gen[w->id];
}

bool collector_watch_changed(struct collector_watch *w, const struct collector_env *env)
{
	uint32_t gen;

	if (w->id < 0)
		return procfs_watch_changed(w->fd);
	gen = env->watch_gen[w->id];
	if (gen == w->seen)
		return false;
	w->seen = gen;
	return true;
}

void collector_watch_close(struct collector_watch *w)
{
	if (w->id < 0 && w->fd > 0)
		close(w->fd);
	w->id = w->fd = -1;
}

void collector_watch_fd(struct collector_watch *w, const struct collector_env *env, int fd)
{
	w->id = fd >= 0 && env->watch_fd && env->watch_gen ? env->watch_fd(env, fd) : -1;
	w->fd = -1;
	w->seen = w->id < 0 ? 0 : env->watch_gen[w->id];
}

void collector_watch_fd_close(struct collector_watch *w, const struct collector_env *env)
{
	if (w->id >= 0 && env->unwatch_fd)
		env->unwatch_fd(env, w->id);
	w->id = w->fd = -1;
}

size_t collector_count(void)
{
	size_t n = 0;

	while (collector_registry[n])
		n++;
	return n;
}
