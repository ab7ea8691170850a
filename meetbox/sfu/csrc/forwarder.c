/* meetbox.sfu._fanout.Forwarder: one down-track's munger, header fields and counters. */
#include "fanout.h"

#include <math.h>

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

int
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

PyTypeObject ForwarderType = {
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
