/* The image a test's child execs while it holds a lock (test_ownership,
 * issue 9 C4). It knows nothing of mpsync: it says "running" by writing one
 * byte to fd argv[1], waits for one byte on fd argv[2], and exits 0. */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int running = atoi(argv[1]), command = atoi(argv[2]);
	char c = 'r';
	if (write(running, &c, 1) != 1)
		return 3;
	return read(command, &c, 1) == 1 ? 0 : 4;
}
