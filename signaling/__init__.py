"""Socket.IO signaling: the `/meeting` namespace, its messages and handlers.

Only this package imports ``socketio``. It knows the rest of the server through the
small :class:`signaling.backend.Backend` protocol, which ``meetingd`` implements.
"""
