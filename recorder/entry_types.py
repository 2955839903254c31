"""Every minutes entry type the server writes, with a one-line meaning.

The journal refuses to append a type that is not listed here, and
``tests/unit/test_minutes_format_doc.py`` fails when ``docs/minutes-format.md`` does
not specify one of them. A package that writes a new kind of fact adds it here and
documents its fields there.
"""

from __future__ import annotations

ENTRY_TYPES: dict[str, str] = {
    # meeting
    "meeting_opened": "the chair opened the meeting; who is invited, agenda, sites",
    "meeting_closed": "the chair closed the meeting (attendance intervals end)",
    # attendance (presence facts: written only while the meeting is open)
    "member_joined": "a member's device joined the live meeting",
    "member_left": "a member's device left (or the meeting closed under it)",
    "member_checked_in": "an officer or the room code put a member in a place",
    "member_checked_out": "an officer took a member out of their place",
    "member_excused": "an officer recorded an excused absence",
    # quorum
    "quorum_reached": "the present voting members reached the quorum",
    "quorum_lost": "the present voting members fell below the quorum",
    "quorum_rule_set": "the chair set the meeting's quorum rule",
    "poll_quorum_changed": "an open poll's quorum status changed",
    # procedure
    "agenda_item_started": "the chair moved to an agenda item",
    "motion_added": "a motion was put on an agenda item",
    "secretary_note": "the secretary (or chair) wrote a minute note",
    "floor_given": "the chair gave the floor to a speaker",
    "speech_ended": "a speech ended, with its duration",
    "speaking_limit_set": "the chair set (or lifted) the speaking-time limit",
    "speech_overtime": "a speech ended past its speaking-time limit, and by how much",
    # votes
    "poll_created": "a poll was drafted",
    "poll_opened": "a poll opened for voting",
    "ballot_cast": "an open ballot: who voted what",
    "voter_marked": "a secret poll: who has voted (never what), written at close in voter order",
    "hand_count_recorded": "an officer entered a show of hands",
    "poll_closed": "a poll closed",
    "poll_result": "a poll's tally and outcome",
    # encrypted secret ballots (docs/e2e-ballots.md)
    "e2e_trustee_key": "a trustee's public key share with its proof of knowledge",
    "e2e_key_statement": "an officer-trustee's signed statement of the poll key, made on their device",
    "e2e_trustees_named": "the chair named (or cleared) the deputy trustee: a key generation round begins",
    "e2e_dkg_key": "key generation: a trustee's encryption key for the shares dealt to it",
    "e2e_dkg_dealing": "key generation: a trustee's commitments and encrypted shares",
    "e2e_dkg_confirmation": "key generation: a trustee checked its shares; its verification key",
    "e2e_dkg_complaint": "key generation: a trustee showed a dealer's share to it is bad (the round fails)",
    "e2e_dkg_refused": "key generation: a step the server refused, and why",
    "e2e_dkg_complete": "key generation done: the poll key, threshold and verification keys",
    "e2e_poll_key": "a secret poll's context at open: its public key, limits and trustees",
    "e2e_ballot": "at close: one encrypted ballot of the board, with its tracker",
    "e2e_board_closed": "at close: the homomorphic sums of the counted ballots",
    "e2e_partial_decryption": "a trustee's partial decryption of the sums, with its proofs",
    "e2e_partial_decryption_refused": "a partial decryption the server refused, and why",
    # recordings
    "recording_started": "the chair started recording",
    "recording_stopped": "recording stopped; each file's SHA-256",
    # the seal
    "minutes_rendered": "the seal: the rendered minutes' SHA-256; always the last entry",
}
