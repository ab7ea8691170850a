/* meetbox.sfu._fanout: the types and state its three files share. */
#ifndef MEETBOX_FANOUT_H
#define MEETBOX_FANOUT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <sys/socket.h>

typedef int (*protect_fn)(void *session, void *packet, int *length);

#define SEQ_MOD 65536LL
#define TS_MOD 4294967296LL

static inline long long
modulo(long long value, long long mod)
{
    long long r = value % mod;
    return r < 0 ? r + mod : r;
}

/* fanout.c: libsrtp's srtp_protect, the packet buffer, interned objects */
extern protect_fn srtp_protect_rtp;
extern Py_ssize_t max_plaintext;
extern unsigned char buffer[2048];
extern PyObject *component_one;
extern PyObject *route_method;

/* route.c: where one transport's packets go */
typedef struct {
    PyObject_HEAD
    void *session;        /* libsrtp's srtp_t of the sending side; NULL until connected */
    PyObject *nominated;  /* the ICE connection's nominated pairs, by component */
    PyObject *pair;       /* the pair the target below was taken from */
    PyObject *sendto;     /* sendto(data, addr): when there is no socket to write to */
    PyObject *addr;
    int fd;               /* the pair's socket, or -1 */
    struct sockaddr_storage sockaddr;
    socklen_t sockaddr_len;
} Route;

extern PyTypeObject RouteType;
/* Protect the packet in ``buffer`` and send it: 1 sent, 0 not, -1 an exception. */
int route_send(Route *self, int length);

/* forwarder.c: one down-track's munger, header fields and counters */
typedef struct {
    PyObject_HEAD
    PyObject *route;  /* a Route, or None */
    PyObject *layout; /* the key of this down-track's tail in fan_out's tails */
    int clock_rate;
    int seq_offset;
    long long ts_offset;
    int last_seq;
    long long last_ts;
    double last_time;
    int highest_in_seq;
    char resync_next;
    char waiting_for_keyframe;
    char closed;
    int payload_type;
    unsigned int ssrc;
    long long packets_sent;
    long long octets_sent;
} Forwarder;

extern PyTypeObject ForwarderType;
/* meetbox.media.munger.RtpMunger.translate: 0 for a packet too old to send. */
int translate(Forwarder *self, int seq, long long ts, double now, int *out_seq,
              long long *out_ts);

#endif
