"""Several meetingd nodes serving one organisation (DESIGN decision 11).

PostgreSQL is the truth; Redis carries Socket.IO broadcasts (signaling.fanout); each
meeting has one owner node at a time, under a lease (lease.py) that dies with the node.
"""
