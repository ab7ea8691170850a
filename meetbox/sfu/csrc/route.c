/* meetbox.sfu._fanout.Route: where one transport's forwarded packets go. */
#include "fanout.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

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

int
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

PyTypeObject RouteType = {
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
