/* The one table of collectors: adding a topic is one file and one line. */
#include <string.h>

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

size_t collector_count(void)
{
	size_t n = 0;

	while (collector_registry[n])
		n++;
	return n;
}
