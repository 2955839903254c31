"""What the SFU negotiates beyond aiortc's tables: Opus FEC and RED, video playout delay.

aiortc answers a browser's Opus with bare ``opus/48000/2`` (no fmtp: the browser then
sends no in-band FEC) and drops RED (RFC 2198). Here the audio m-lines get:

* Opus with ``minptime=10;useinbandfec=1;stereo=0`` (``usedtx=1`` only when configured:
  speech continuity matters more than the bits saved in silence). With in-band FEC
  negotiated, a libwebrtc encoder adds FEC as the loss its receiver reports rises (our
  receiver reports carry the uplink's loss).
* RED (``red/48000/2``, fmtp ``<opus>/<opus>``) when the publisher offers it, listed
  *before* Opus: a libwebrtc sender uses RED only for a RED codec negotiated ahead of the
  codec it references. Subscribers are offered RED too; those that accept it get the
  publisher's RED packets as they are, the others only the primary Opus payload.

No audio NACK: Chromium offers no NACK for Opus.

transport-cc (``TRANSPORT_CC_URI`` and ``a=rtcp-fb:* transport-cc``, both directions): a
publisher that offers it gets it in the answer (``media.aiortc_hooks.enable_transport_cc``;
the relay sends it transport feedback); every sending m-line of a subscriber's offer
carries it too (:func:`rewrite_offer_audio` with ``transport_cc``), and the m-lines whose
answer kept it number their packets for the subscriber's estimate (``media/bwe.py``).

Subscribers' video m-lines also offer the ``playout-delay`` header extension (a webrtc.org
experiment every Chromium understands): the relay tells a subscriber's decoder to play video
late enough for a lost packet's retransmission to arrive in time on a long, lossy path
(``media/sfu.py``, ``Sfu._tune_playout_delays``). aiortc does not know the extension and
forgets it when it applies the answer, so the id is read back from the answer here.

The functions take and return aiortc's public parameter classes;
:func:`media.aiortc_hooks.set_codecs` applies the result to a transceiver.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from aiortc.rtcrtpparameters import (
    ParametersDict,
    RTCRtcpFeedback,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
)
from aiortc.sdp import SessionDescription

from media.twcc import TRANSPORT_CC_URI

# The payload types offered to subscribers: Chromium's own numbers, so a publisher's RED
# blocks (which name its Opus type) need no renumbering on the way to a Chromium subscriber.
OPUS_PAYLOAD_TYPE = 111
RED_PAYLOAD_TYPE = 63

PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
# aiortc numbers its own extensions 1-3 (mid, audio level, abs-send-time): one id per URI
# across the bundle.
PLAYOUT_DELAY_ID = 6
TRANSPORT_CC_ID = 5


@dataclass(frozen=True, slots=True)
class AudioPolicy:
    """How audio is negotiated (the ``[media]`` settings ``audio_red``, ``opus_fec``, ``opus_dtx``)."""

    red: bool = True
    fec: bool = True
    dtx: bool = False

    def opus_parameters(self) -> ParametersDict:
        params: ParametersDict = {"minptime": 10}
        if self.fec:
            params["useinbandfec"] = 1
        params["stereo"] = 0
        if self.dtx:
            params["usedtx"] = 1
        return params


def _is_opus(codec: RTCRtpCodecParameters) -> bool:
    return codec.mimeType.lower() == "audio/opus" and codec.clockRate == 48000


def _is_red_for(codec: RTCRtpCodecParameters, opus_type: int) -> bool:
    """``codec`` is ``red/48000/2`` whose fmtp names only ``opus_type`` (e.g. ``111/111``)."""
    if codec.mimeType.lower() != "audio/red" or codec.clockRate != 48000 or (codec.channels or 1) != 2:
        return False
    if len(codec.parameters) != 1:
        return False
    (blocks,) = codec.parameters
    types = blocks.split("/")
    return 0 < len(types) <= 4 and all(t == str(opus_type) for t in types)


def opus_codec(payload_type: int, policy: AudioPolicy) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(
        mimeType="audio/opus",
        clockRate=48000,
        channels=2,
        payloadType=payload_type,
        parameters=policy.opus_parameters(),
    )


def red_codec(payload_type: int, opus_type: int) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(
        mimeType="audio/red",
        clockRate=48000,
        channels=2,
        payloadType=payload_type,
        parameters={f"{opus_type}/{opus_type}": None},
    )


def answer_audio(offered: list[RTCRtpCodecParameters], policy: AudioPolicy) -> list[RTCRtpCodecParameters]:
    """A publisher's audio answer: RED (if offered and wanted) ahead of Opus; [] without Opus."""
    opus = next((c for c in offered if _is_opus(c) and c.payloadType is not None), None)
    if opus is None or opus.payloadType is None:
        return []
    answer = [opus_codec(opus.payloadType, policy)]
    if policy.red:
        red = next((c for c in offered if _is_red_for(c, opus.payloadType)), None)
        if red is not None and red.payloadType is not None:
            answer.insert(0, red_codec(red.payloadType, opus.payloadType))
    return answer


def offer_audio(policy: AudioPolicy) -> list[RTCRtpCodecParameters]:
    """What a subscriber's audio m-line offers: Opus, and RED when wanted."""
    codecs = [opus_codec(OPUS_PAYLOAD_TYPE, policy)]
    if policy.red:
        codecs.append(red_codec(RED_PAYLOAD_TYPE, OPUS_PAYLOAD_TYPE))
    return codecs


def accepted_audio(
    offered: list[RTCRtpCodecParameters], answered: list[RTCRtpCodecParameters]
) -> list[RTCRtpCodecParameters]:
    """What a subscriber accepted of our audio offer: Opus first (the sender's codec), then RED."""
    types = {c.payloadType: c for c in answered}
    accepted = []
    for codec in offered:
        theirs = types.get(codec.payloadType)
        if theirs is not None and theirs.mimeType.lower() == codec.mimeType.lower():
            accepted.append(copy.deepcopy(codec))
    accepted.sort(key=lambda c: not _is_opus(c))
    return accepted


def rewrite_offer_audio(
    sdp: str,
    codecs: list[RTCRtpCodecParameters],
    *,
    playout_delay: bool = False,
    transport_cc: bool = False,
) -> str:
    """``sdp`` (an offer aiortc made) with every sending audio m-line offering ``codecs``
    (with ``playout_delay``, every sending video m-line the playout-delay extension; with
    ``transport_cc``, every sending m-line transport-cc)."""
    description = SessionDescription.parse(sdp)
    for media in description.media:
        if media.kind == "audio" and media.port:
            media.rtp.codecs = copy.deepcopy(codecs)
            media.fmt = [c.payloadType for c in codecs]
        elif media.kind == "video" and media.port and playout_delay:
            if not any(e.uri == PLAYOUT_DELAY_URI for e in media.rtp.headerExtensions):
                media.rtp.headerExtensions.append(
                    RTCRtpHeaderExtensionParameters(id=PLAYOUT_DELAY_ID, uri=PLAYOUT_DELAY_URI)
                )
        if transport_cc and media.kind in ("audio", "video") and media.port:
            if not any(e.uri == TRANSPORT_CC_URI for e in media.rtp.headerExtensions):
                media.rtp.headerExtensions.append(
                    RTCRtpHeaderExtensionParameters(id=TRANSPORT_CC_ID, uri=TRANSPORT_CC_URI)
                )
            for codec in media.rtp.codecs:
                if codec.mimeType.lower() not in ("video/rtx", "audio/rtx") and not any(
                    f.type == "transport-cc" for f in codec.rtcpFeedback
                ):
                    codec.rtcpFeedback.append(RTCRtcpFeedback(type="transport-cc"))
    return str(description)


def transport_cc_ids_of(sdp: str) -> dict[str, int]:
    """mid -> the transport-cc extension id of each audio/video m-line of ``sdp`` that has it."""
    found: dict[str, int] = {}
    for media in SessionDescription.parse(sdp).media:
        if media.kind in ("audio", "video") and media.rtp.muxId and media.port:
            for ext in media.rtp.headerExtensions:
                if ext.uri == TRANSPORT_CC_URI:
                    found[media.rtp.muxId] = ext.id
    return found


def playout_delay_ids_of(sdp: str) -> dict[str, int]:
    """mid -> the playout-delay extension id of each video m-line of an answer that kept it."""
    found: dict[str, int] = {}
    for media in SessionDescription.parse(sdp).media:
        if media.kind == "video" and media.rtp.muxId:
            for ext in media.rtp.headerExtensions:
                if ext.uri == PLAYOUT_DELAY_URI:
                    found[media.rtp.muxId] = ext.id
    return found


def audio_codecs_of(sdp: str) -> dict[str, list[RTCRtpCodecParameters]]:
    """mid -> the codecs of each audio m-line of ``sdp``."""
    return {
        media.rtp.muxId: media.rtp.codecs
        for media in SessionDescription.parse(sdp).media
        if media.kind == "audio" and media.rtp.muxId
    }


# --- simulcast (RFC 8853) ----------------------------------------------------------------

RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
# Layers taken from one publisher's video; further rids in an offer are declined.
MAX_SIMULCAST_LAYERS = 3
_RID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
# Names clients give their layers, best first: ours (h, m, l) and the q/h/f convention.
_KNOWN_ORDERS = (("h", "m", "l"), ("f", "h", "q"))


@dataclass(frozen=True, slots=True)
class SimulcastOffer:
    """A video m-line offering simulcast: its rids as offered, and what they rank as."""

    rids: tuple[str, ...]  # as the offer lists them (the answer repeats this order)
    rid_ext_id: int
    repaired_rid_ext_id: int  # 0: not offered (retransmissions are then not told apart)

    @property
    def ranked(self) -> tuple[str, ...]:
        """The rids best first: by the known names, else the offer's order taken as lowest
        first (the convention libwebrtc's samples follow)."""
        for order in _KNOWN_ORDERS:
            if set(self.rids) <= set(order):
                return tuple(r for r in order if r in self.rids)
        return tuple(reversed(self.rids))


def _sections(sdp: str) -> list[list[str]]:
    """The session part, then each m-section, as lists of lines (without line ends)."""
    sections: list[list[str]] = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    return sections


def simulcast_offered(sdp: str) -> dict[str, SimulcastOffer]:
    """mid -> the simulcast a sending video m-line of a publisher's offer asks for.

    Only what the relay can tell apart counts: ``a=simulcast:send`` with ``a=rid:<id> send``
    lines and the rtp-stream-id header extension; a paused rid (``~h``) and alternatives
    beyond the first of a group are left out. Fewer than two layers: no simulcast."""
    found: dict[str, SimulcastOffer] = {}
    for lines in _sections(sdp)[1:]:
        if not lines[0].startswith("m=video"):
            continue
        mid, send, declared = "", [], set()
        rid_id = repaired_id = 0
        for line in lines:
            if line.startswith("a=mid:"):
                mid = line[6:].strip()
            elif line.startswith("a=rid:"):
                parts = line[6:].split()
                if len(parts) >= 2 and parts[1] == "send":
                    declared.add(parts[0])
            elif line.startswith("a=simulcast:"):
                words = line[12:].split()
                if len(words) >= 2 and words[0] == "send":
                    for group in words[1].split(";"):
                        first = group.split(",")[0]
                        if not first.startswith("~"):
                            send.append(first)
            elif line.startswith("a=extmap:"):
                head, _, uri = line[9:].partition(" ")
                ext_id = head.split("/")[0]
                if ext_id.isdigit():
                    if uri.strip() == RID_URI:
                        rid_id = int(ext_id)
                    elif uri.strip() == REPAIRED_RID_URI:
                        repaired_id = int(ext_id)
        rids = tuple(dict.fromkeys(r for r in send if r in declared and _RID.match(r)))
        rids = rids[:MAX_SIMULCAST_LAYERS]
        if mid and rid_id and len(rids) >= 2:
            found[mid] = SimulcastOffer(rids, rid_id, repaired_id)
    return found


def answer_simulcast(sdp: str, offers: dict[str, SimulcastOffer]) -> str:
    """``sdp`` (aiortc's answer) with ``a=rid:<id> recv`` and ``a=simulcast:recv`` in each
    m-section whose mid is in ``offers`` (aiortc knows neither attribute)."""
    if not offers:
        return sdp
    out: list[str] = []
    for lines in _sections(sdp):
        mid = next((line[6:].strip() for line in lines if line.startswith("a=mid:")), "")
        offer = offers.get(mid) if lines and lines[0].startswith("m=video") else None
        out.extend(lines)
        if offer is not None and not any(line.startswith("a=simulcast:") for line in lines):
            out.extend(f"a=rid:{rid} recv" for rid in offer.rids)
            out.append("a=simulcast:recv " + ";".join(offer.rids))
    return "\r\n".join(out) + "\r\n"
