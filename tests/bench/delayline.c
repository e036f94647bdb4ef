/*
 * delayline.c: holds every packet of an NFQUEUE queue for a fixed time,
 * then lets it go on, in order.  The latency benchmark (tests/bench/
 * latency.sh) queues the TCP packets of a network namespace's loopback
 * device here: each packet is delayed once, so the round trip time is
 * twice the delay.  Nothing terminates TCP here; the kernel's own stacks
 * talk, only later (netem, the usual tool, is not in every kernel).
 *
 *   delayline QUEUE DELAY_MS
 *
 * Runs until killed (SIGTERM/SIGINT: every packet still held is let go).
 * Build: cc -O2 -o delayline delayline.c $(pkg-config --cflags --libs
 * libnetfilter_queue).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#define HELD_MAX	65536	/* packets in flight at once, at most */

struct held {
	uint32_t id;
	double	 due;
};

static struct held ring[HELD_MAX];
static size_t head, count;
static double delay;
static volatile sig_atomic_t stop;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
queued(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *arg)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);

	(void)msg;
	(void)arg;
	if (ph == NULL)
		return 0;
	if (count == HELD_MAX) {
		/* Full: no delay for this one rather than a drop. */
		nfq_set_verdict(qh, ntohl(ph->packet_id), NF_ACCEPT, 0, NULL);
		return 0;
	}
	ring[(head + count) % HELD_MAX].id = ntohl(ph->packet_id);
	ring[(head + count) % HELD_MAX].due = now() + delay;
	count++;
	return 0;
}

/* Lets go every packet whose time has come (all of them when all is set). */
static void
release(struct nfq_q_handle *qh, int all)
{
	double t = now();

	while (count > 0 && (all || ring[head].due <= t)) {
		nfq_set_verdict(qh, ring[head].id, NF_ACCEPT, 0, NULL);
		head = (head + 1) % HELD_MAX;
		count--;
	}
}

int
main(int argc, char **argv)
{
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	struct pollfd pfd;
	struct sigaction sa;
	char buf[65536] __attribute__((aligned));
	double wait_s;
	ssize_t n;
	int fd, timeout;

	if (argc != 3) {
		fprintf(stderr, "usage: delayline QUEUE DELAY_MS\n");
		return 64;
	}
	delay = atof(argv[2]) / 1000.0;
	if ((h = nfq_open()) == NULL) {
		perror("delayline: nfq_open");
		return 1;
	}
	if ((qh = nfq_create_queue(h, (uint16_t)atoi(argv[1]), queued, NULL)) == NULL) {
		perror("delayline: nfq_create_queue");
		return 1;
	}
	/* Only the packet's id is needed; the kernel keeps the packet. */
	if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0 ||
	    nfq_set_queue_maxlen(qh, HELD_MAX) < 0) {
		perror("delayline: nfq_set_mode");
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = nfq_fd(h);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		release(qh, 0);
		timeout = -1;
		if (count > 0) {
			wait_s = ring[head].due - now();
			timeout = wait_s <= 0 ? 0 : (int)(wait_s * 1000.0) + 1;
			/* Under a millisecond left: do not oversleep by a whole one. */
			if (wait_s > 0 && wait_s < 0.001)
				timeout = 0;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout) > 0) {
			while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
				nfq_handle_packet(h, buf, (int)n);
			if (n == -1 && errno == ENOBUFS)
				fprintf(stderr, "delayline: the kernel dropped queue messages\n");
		}
	}
	release(qh, 1);
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
