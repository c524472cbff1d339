/* host_cpuinfo_parse(): /proc/cpuinfo. Checks the counts against each
 * other (sockets <= cores <= logical CPUs, which are the "processor"
 * lines) and that the model is a value of the file. */
#include "fuzz.h"

#include "host_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size);
	struct host_cpu cpu = {0};
	unsigned processors = 0;

	if (host_cpuinfo_parse(text, size, &cpu) < 0)
		goto out;
	for (size_t i = 0; i + 9 <= size; i++)
		processors += (i == 0 || text[i - 1] == '\n') &&
			      memcmp(text + i, "processor", 9) == 0 &&
			      strspn(text + i + 9, " \t") == strcspn(text + i + 9, ":");
	FUZZ_CHECK(cpu.logical >= 1 && cpu.logical == processors);
	FUZZ_CHECK(cpu.cores == -1 || (cpu.cores >= 1 && (unsigned)cpu.cores <= cpu.logical));
	FUZZ_CHECK(cpu.sockets == -1 || (cpu.sockets >= 1 && cpu.sockets <= cpu.cores));
	FUZZ_CHECK(!cpu.hypervisor || cpu.has_flags);
	if (cpu.model) {
		FUZZ_CHECK(*cpu.model && cpu.model[0] != ' ' && cpu.model[0] != '\t');
		FUZZ_CHECK(memmem(text, size, cpu.model, strlen(cpu.model)));
	}
	host_cpu_free(&cpu);
out:
	free(text);
	return 0;
}
