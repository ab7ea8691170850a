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
#include "fanout.h"

#include <string.h>

protect_fn srtp_protect_rtp = NULL;
Py_ssize_t max_plaintext = 0;
unsigned char buffer[2048]; /* one packet at a time: the GIL is held throughout */
PyObject *component_one = NULL;
PyObject *route_method = NULL;

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
