/*
 * meetbox.sfu._fanout: the forwarding loop of meetbox.sfu.fanout, compiled.
 *
 * One incoming RTP packet goes to every down-track of its up-track: per down-track the
 * sequence number and timestamp are rewritten (the munger of meetbox.media.munger), the
 * fixed header is written before the packet's shared tail, libsrtp protects it in place
 * (srtp_protect, reached through pylibsrtp's binding: meetbox links nothing itself) and
 * it is sent with sendto() on the nominated ICE pair's socket. Everything else (which
 * pair, which session, TURN, resyncs asked for by the SFU) stays in Python and is handed
 * to the objects here through their setters; meetbox/sfu/fanout.py is the reference
 * implementation and the fallback where no compiler was found, and the tests run both.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*protect_fn)(void *session, void *packet, int *length);

static protect_fn srtp_protect_rtp = NULL;
static Py_ssize_t max_plaintext = 0;
static unsigned char buffer[2048]; /* one packet at a time: the GIL is held throughout */
static PyObject *component_one = NULL;
static PyObject *route_method = NULL;

#define SEQ_MOD 65536LL
#define TS_MOD 4294967296LL

static long long
modulo(long long value, long long mod)
{
    long long r = value % mod;
    return r < 0 ? r + mod : r;
}

/* -- Route: where one transport's packets go ------------------------------------------- */

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

static PyTypeObject RouteType;

static PyObject *
Route_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Route *self = (Route *)type->tp_alloc(type, 0);
    if (self != NULL)
        self->fd = -1; /* never descriptor 0: no socket until a target is set */
    return (PyObject *)self;
}

static int
Route_traverse(Route *self, visitproc visit, void *arg)
{
    Py_VISIT(self->nominated);
    Py_VISIT(self->pair);
    Py_VISIT(self->sendto);
    Py_VISIT(self->addr);
    return 0;
}

static int
Route_clear(Route *self)
{
    Py_CLEAR(self->nominated);
    Py_CLEAR(self->pair);
    Py_CLEAR(self->sendto);
    Py_CLEAR(self->addr);
    return 0;
}

static void
Route_dealloc(Route *self)
{
    PyObject_GC_UnTrack(self);
    Route_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Route_set_session(Route *self, PyObject *address)
{
    void *session = PyLong_AsVoidPtr(address);
    if (session == NULL && PyErr_Occurred())
        return NULL;
    self->session = session;
    Py_RETURN_NONE;
}

static PyObject *
Route_set_nominated(Route *self, PyObject *nominated)
{
    if (!PyDict_Check(nominated)) {
        PyErr_SetString(PyExc_TypeError, "nominated must be a dict");
        return NULL;
    }
    Py_INCREF(nominated);
    Py_XSETREF(self->nominated, nominated);
    Py_CLEAR(self->pair);
    Py_RETURN_NONE;
}

/* Fill the socket address from a (host, port, ...) tuple; 0 when it is not one. */
static int
parse_address(Route *self, PyObject *addr)
{
    if (!PyTuple_Check(addr) || PyTuple_GET_SIZE(addr) < 2)
        return 0;
    const char *host = PyUnicode_AsUTF8(PyTuple_GET_ITEM(addr, 0));
    long port = PyLong_AsLong(PyTuple_GET_ITEM(addr, 1));
    if (host == NULL || port < 0 || port > 65535) {
        PyErr_Clear();
        return 0;
    }
    memset(&self->sockaddr, 0, sizeof(self->sockaddr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&self->sockaddr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&self->sockaddr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        self->sockaddr_len = sizeof(*v4);
        return 1;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        self->sockaddr_len = sizeof(*v6);
        return 1;
    }
    return 0;
}

static PyObject *
Route_set_target(Route *self, PyObject *args)
{
    PyObject *pair, *sendto, *addr;
    int fd;
    if (!PyArg_ParseTuple(args, "OOOi:_set_target", &pair, &sendto, &addr, &fd))
        return NULL;
    Py_INCREF(pair);
    Py_XSETREF(self->pair, pair);
    Py_INCREF(sendto);
    Py_XSETREF(self->sendto, sendto);
    Py_INCREF(addr);
    Py_XSETREF(self->addr, addr);
    self->fd = (fd >= 0 && parse_address(self, addr)) ? fd : -1;
    Py_RETURN_NONE;
}

/* Protect the packet in ``buffer`` and send it: 1 sent, 0 not, -1 an exception. */
static int
route_send(Route *self, int length)
{
    if (srtp_protect_rtp(self->session, buffer, &length) != 0)
        return 0;
    if (self->nominated == NULL)
        return 0;
    PyObject *pair = PyDict_GetItemWithError(self->nominated, component_one);
    if (pair == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (pair != self->pair) {
        /* ICE nominated another pair: the Python side looks its route up */
        PyObject *done = PyObject_CallMethodOneArg((PyObject *)self, route_method, pair);
        if (done == NULL)
            return -1;
        Py_DECREF(done);
        if (pair != self->pair)
            return 0;
    }
    if (self->fd >= 0) {
        ssize_t sent = sendto(self->fd, buffer, (size_t)length, MSG_DONTWAIT,
                              (struct sockaddr *)&self->sockaddr, self->sockaddr_len);
        if (sent >= 0)
            return 1;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
            return 0; /* as the event loop's transport: a datagram that fails is lost */
        /* the socket is full: the event loop's transport queues the datagram */
    }
    if (self->sendto == NULL || self->sendto == Py_None)
        return 0;
    PyObject *data = PyBytes_FromStringAndSize((const char *)buffer, length);
    if (data == NULL)
        return -1;
    PyObject *result = PyObject_CallFunctionObjArgs(self->sendto, data, self->addr, NULL);
    Py_DECREF(data);
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 1;
}

static PyMethodDef Route_methods[] = {
    {"_set_session", (PyCFunction)Route_set_session, METH_O,
     "The sending side's srtp_t as an address (0: not connected)."},
    {"_set_nominated", (PyCFunction)Route_set_nominated, METH_O,
     "The ICE connection's nominated pairs (a dict by component)."},
    {"_set_target", (PyCFunction)Route_set_target, METH_VARARGS,
     "_set_target(pair, sendto, addr, fd): the route for the nominated pair."},
    {NULL},
};

static PyTypeObject RouteType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "meetbox.sfu._fanout.Route",
    .tp_doc = "Where one transport's forwarded packets go (the compiled loop's half of a "
              "TransportWriter).",
    .tp_basicsize = sizeof(Route),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = Route_new,
    .tp_dealloc = (destructor)Route_dealloc,
    .tp_traverse = (traverseproc)Route_traverse,
    .tp_clear = (inquiry)Route_clear,
    .tp_methods = Route_methods,
};

/* -- Forwarder: one down-track's munger, header fields and counters -------------------- */

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

static PyTypeObject ForwarderType;

static int
Forwarder_init(Forwarder *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"clock_rate", "ssrc", "seq_offset", "ts_offset", NULL};
    int clock_rate, seq_offset;
    unsigned int ssrc;
    long long ts_offset;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iIiL:Forwarder", keywords, &clock_rate,
                                     &ssrc, &seq_offset, &ts_offset))
        return -1;
    if (clock_rate <= 0 || seq_offset < 0 || seq_offset >= SEQ_MOD || ts_offset < 0 ||
        ts_offset >= TS_MOD) {
        PyErr_SetString(PyExc_ValueError, "clock_rate, seq_offset or ts_offset out of range");
        return -1;
    }
    self->clock_rate = clock_rate;
    self->ssrc = ssrc;
    self->seq_offset = seq_offset;
    self->ts_offset = ts_offset;
    self->last_seq = -1;
    self->last_ts = 0;
    self->last_time = 0.0;
    self->highest_in_seq = -1;
    self->resync_next = 1;
    self->payload_type = -1;
    Py_XSETREF(self->route, Py_NewRef(Py_None));
    Py_XSETREF(self->layout, Py_NewRef(Py_None));
    return 0;
}

static int
Forwarder_traverse(Forwarder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->route);
    Py_VISIT(self->layout);
    return 0;
}

static int
Forwarder_clear(Forwarder *self)
{
    Py_CLEAR(self->route);
    Py_CLEAR(self->layout);
    return 0;
}

static void
Forwarder_dealloc(Forwarder *self)
{
    PyObject_GC_UnTrack(self);
    Forwarder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* meetbox.media.munger.RtpMunger.translate: 0 for a packet too old to send. */
static int
translate(Forwarder *self, int seq, long long ts, double now, int *out_seq, long long *out_ts)
{
    if (self->resync_next) {
        self->resync_next = 0;
        if (self->last_seq >= 0) {
            double elapsed = trunc((now - self->last_time) * self->clock_rate);
            if (!(elapsed >= 1.0))
                elapsed = 1.0;
            long long wrapped = (long long)fmod(elapsed, (double)TS_MOD);
            self->seq_offset = (int)modulo(self->last_seq + 1 - seq, SEQ_MOD);
            self->ts_offset = modulo(self->last_ts + wrapped - ts, TS_MOD);
        }
        self->highest_in_seq = seq;
    }
    else {
        long long ahead = modulo(seq - self->highest_in_seq, SEQ_MOD);
        if (ahead >= SEQ_MOD / 2) {
            /* out of order: the current offsets, unless older than this run's start */
            if (modulo(self->highest_in_seq - seq, SEQ_MOD) > 1000)
                return 0;
            *out_seq = (int)modulo(seq + self->seq_offset, SEQ_MOD);
            *out_ts = modulo(ts + self->ts_offset, TS_MOD);
            return 1;
        }
        self->highest_in_seq = seq;
    }
    *out_seq = (int)modulo(seq + self->seq_offset, SEQ_MOD);
    *out_ts = modulo(ts + self->ts_offset, TS_MOD);
    self->last_seq = *out_seq;
    self->last_ts = *out_ts;
    self->last_time = now;
    return 1;
}

static PyObject *
Forwarder_translate(Forwarder *self, PyObject *args)
{
    int seq, out_seq;
    long long ts, out_ts;
    double now;
    if (!PyArg_ParseTuple(args, "iLd:translate", &seq, &ts, &now))
        return NULL;
    if (seq < 0 || seq >= SEQ_MOD || ts < 0 || ts >= TS_MOD) {
        PyErr_SetString(PyExc_ValueError, "sequence number or timestamp out of range");
        return NULL;
    }
    if (!translate(self, seq, ts, now, &out_seq, &out_ts))
        Py_RETURN_NONE;
    return Py_BuildValue("(iL)", out_seq, out_ts);
}

static PyObject *
Forwarder_resync(Forwarder *self, PyObject *unused)
{
    self->resync_next = 1;
    Py_RETURN_NONE;
}

static PyObject *
Forwarder_incoming_seq(Forwarder *self, PyObject *arg)
{
    long out_seq = PyLong_AsLong(arg);
    if (out_seq == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromLongLong(modulo(out_seq - self->seq_offset, SEQ_MOD));
}

static int
Forwarder_set_route(Forwarder *self, PyObject *value, void *closure)
{
    if (value == NULL || (value != Py_None && !PyObject_TypeCheck(value, &RouteType))) {
        PyErr_SetString(PyExc_TypeError, "route must be a Route or None");
        return -1;
    }
    Py_XSETREF(self->route, Py_NewRef(value));
    return 0;
}

static PyObject *
Forwarder_get_route(Forwarder *self, void *closure)
{
    return Py_NewRef(self->route);
}

static int
Forwarder_set_layout(Forwarder *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "layout cannot be deleted");
        return -1;
    }
    Py_XSETREF(self->layout, Py_NewRef(value));
    return 0;
}

static PyObject *
Forwarder_get_layout(Forwarder *self, void *closure)
{
    return Py_NewRef(self->layout);
}

static PyGetSetDef Forwarder_getset[] = {
    {"route", (getter)Forwarder_get_route, (setter)Forwarder_set_route, NULL, NULL},
    {"layout", (getter)Forwarder_get_layout, (setter)Forwarder_set_layout, NULL, NULL},
    {NULL},
};

static PyMemberDef Forwarder_members[] = {
    {"clock_rate", T_INT, offsetof(Forwarder, clock_rate), READONLY, NULL},
    {"seq_offset", T_INT, offsetof(Forwarder, seq_offset), READONLY, NULL},
    {"ts_offset", T_LONGLONG, offsetof(Forwarder, ts_offset), READONLY, NULL},
    {"last_seq", T_INT, offsetof(Forwarder, last_seq), READONLY, NULL},
    {"last_ts", T_LONGLONG, offsetof(Forwarder, last_ts), READONLY, NULL},
    {"last_time", T_DOUBLE, offsetof(Forwarder, last_time), READONLY, NULL},
    {"highest_in_seq", T_INT, offsetof(Forwarder, highest_in_seq), READONLY, NULL},
    {"waiting_for_keyframe", T_BOOL, offsetof(Forwarder, waiting_for_keyframe), 0, NULL},
    {"closed", T_BOOL, offsetof(Forwarder, closed), 0, NULL},
    {"payload_type", T_INT, offsetof(Forwarder, payload_type), 0, NULL},
    {"ssrc", T_UINT, offsetof(Forwarder, ssrc), READONLY, NULL},
    {"packets_sent", T_LONGLONG, offsetof(Forwarder, packets_sent), 0, NULL},
    {"octets_sent", T_LONGLONG, offsetof(Forwarder, octets_sent), 0, NULL},
    {NULL},
};

static PyMethodDef Forwarder_methods[] = {
    {"translate", (PyCFunction)Forwarder_translate, METH_VARARGS,
     "Outgoing (seq, ts) for an incoming packet, or None for one too old to send."},
    {"resync", (PyCFunction)Forwarder_resync, METH_NOARGS,
     "The next packet starts a new run: continue after the last one sent."},
    {"incoming_seq", (PyCFunction)Forwarder_incoming_seq, METH_O,
     "The incoming sequence number an outgoing one was made from (current run)."},
    {NULL},
};

static PyTypeObject ForwarderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "meetbox.sfu._fanout.Forwarder",
    .tp_doc = "One down-track's forwarding state: munger, header fields, counters.",
    .tp_basicsize = sizeof(Forwarder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Forwarder_init,
    .tp_dealloc = (destructor)Forwarder_dealloc,
    .tp_traverse = (traverseproc)Forwarder_traverse,
    .tp_clear = (inquiry)Forwarder_clear,
    .tp_methods = Forwarder_methods,
    .tp_members = Forwarder_members,
    .tp_getset = Forwarder_getset,
};

/* -- the loop ------------------------------------------------------------------------ */

static void
put_be16(unsigned char *at, unsigned int value)
{
    at[0] = (unsigned char)(value >> 8);
    at[1] = (unsigned char)value;
}

static void
put_be32(unsigned char *at, unsigned long long value)
{
    at[0] = (unsigned char)(value >> 24);
    at[1] = (unsigned char)(value >> 16);
    at[2] = (unsigned char)(value >> 8);
    at[3] = (unsigned char)value;
}

static PyObject *
fan_out(PyObject *module, PyObject *args)
{
    PyObject *forwarders, *tails;
    int seq, marker, keyframe;
    long long ts;
    Py_ssize_t payload_size;
    double now;
    if (!PyArg_ParseTuple(args, "O!O!iLpndp:fan_out", &PyList_Type, &forwarders,
                          &PyDict_Type, &tails, &seq, &ts, &marker, &payload_size, &now,
                          &keyframe))
        return NULL;
    if (srtp_protect_rtp == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "meetbox.sfu._fanout.init() was not called");
        return NULL;
    }
    if (seq < 0 || seq >= SEQ_MOD || ts < 0 || ts >= TS_MOD) {
        PyErr_SetString(PyExc_ValueError, "sequence number or timestamp out of range");
        return NULL;
    }
    PyObject *layout = NULL; /* the layout whose tail ``rest`` is */
    PyObject *rest = NULL;   /* a reference of our own: route_send may run Python code */
    int first = 0;
    long waiting = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(forwarders); i++) {
        PyObject *item = PyList_GET_ITEM(forwarders, i);
        if (!PyObject_TypeCheck(item, &ForwarderType)) {
            PyErr_SetString(PyExc_TypeError, "fan_out takes a list of Forwarders");
            goto error;
        }
        Forwarder *f = (Forwarder *)item;
        if (f->route == Py_None || f->payload_type < 0 || f->closed)
            continue;
        Route *route = (Route *)f->route;
        if (f->waiting_for_keyframe && !keyframe) {
            if (route->session != NULL)
                waiting++;
            continue;
        }
        int out_seq;
        long long out_ts;
        if (!translate(f, seq, ts, now, &out_seq, &out_ts))
            continue;
        f->waiting_for_keyframe = 0;
        if (f->layout != layout) {
            PyObject *tail = PyDict_GetItemWithError(tails, f->layout);
            if (tail == NULL) {
                if (PyErr_Occurred())
                    goto error;
                continue;
            }
            if (!PyTuple_Check(tail) || PyTuple_GET_SIZE(tail) != 2 ||
                !PyBytes_Check(PyTuple_GET_ITEM(tail, 1))) {
                PyErr_SetString(PyExc_TypeError, "tails holds (first byte, bytes) tuples");
                goto error;
            }
            first = (int)PyLong_AsLong(PyTuple_GET_ITEM(tail, 0));
            if (first == -1 && PyErr_Occurred())
                goto error;
            Py_XSETREF(rest, Py_NewRef(PyTuple_GET_ITEM(tail, 1)));
            layout = f->layout;
        }
        Py_ssize_t length = 12 + PyBytes_GET_SIZE(rest);
        if (route->session == NULL || length > max_plaintext)
            continue;
        /* libsrtp encrypts in place: header and tail are written for each down-track */
        buffer[0] = (unsigned char)first;
        buffer[1] = (unsigned char)((f->payload_type & 0x7F) | (marker ? 0x80 : 0));
        put_be16(buffer + 2, (unsigned int)out_seq);
        put_be32(buffer + 4, (unsigned long long)out_ts);
        put_be32(buffer + 8, f->ssrc);
        memcpy(buffer + 12, PyBytes_AS_STRING(rest), (size_t)(length - 12));
        /* references of our own: route_send may run Python code that detaches them */
        Py_INCREF(f);
        Py_INCREF(route);
        int sent = route_send(route, (int)length);
        Py_DECREF(route);
        if (sent > 0) {
            f->packets_sent++;
            f->octets_sent += payload_size;
        }
        Py_DECREF(f);
        if (sent < 0)
            goto error;
    }
    Py_XDECREF(rest);
    return PyLong_FromLong(waiting);
error:
    Py_XDECREF(rest);
    return NULL;
}

static PyObject *
init(PyObject *module, PyObject *args)
{
    PyObject *address;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "On:init", &address, &size))
        return NULL;
    void *pointer = PyLong_AsVoidPtr(address);
    if (pointer == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "srtp_protect's address is 0");
        return NULL;
    }
    if (size < 12 || size > (Py_ssize_t)sizeof(buffer)) {
        PyErr_SetString(PyExc_ValueError, "max_plaintext out of range");
        return NULL;
    }
    srtp_protect_rtp = (protect_fn)pointer;
    max_plaintext = size;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"fan_out", fan_out, METH_VARARGS,
     "fan_out(forwarders, tails, seq, ts, marker, payload_size, now, keyframe) -> int: "
     "send one packet to every forwarder; the number that wait for a keyframe."},
    {"init", init, METH_VARARGS,
     "init(srtp_protect_address, max_plaintext): libsrtp's srtp_protect, as an address."},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "meetbox.sfu._fanout",
    .m_doc = "The forwarding loop of meetbox.sfu.fanout, compiled.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__fanout(void)
{
    if (PyType_Ready(&RouteType) < 0 || PyType_Ready(&ForwarderType) < 0)
        return NULL;
    component_one = PyLong_FromLong(1);
    route_method = PyUnicode_InternFromString("_route");
    if (component_one == NULL || route_method == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Route", (PyObject *)&RouteType) < 0 ||
        PyModule_AddObjectRef(m, "Forwarder", (PyObject *)&ForwarderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
