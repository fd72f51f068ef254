"""A paho client tuned for draining a broker fast (the edge ingest reads through).

paho reads each packet with three or more ``recv`` calls (one byte for the type, one
per length byte, then the body) and goes back to ``select`` after every packet; each
acknowledgement from another thread also writes a wake-up byte. At tens of thousands
of messages a second those system calls dominate. This subclass:

- reads the socket in 256 KiB chunks and serves paho's small reads from a buffer;
- keeps parsing while whole packets are already buffered instead of returning to
  ``select`` (which would not wake: the bytes are no longer in the socket);
- acknowledges a whole batch with one write (:meth:`ack_many`);
- decodes QoS 0/1 PUBLISH packets without properties directly (paho builds a
  ``Properties`` object per message, a third of its receive time) and calls
  ``on_message`` without topic filtering (``message_callback_add`` is refused), or
  ``on_raw_message`` with the bare topic, payload, packet id and QoS when set.

It overrides private paho methods (``_sock_recv``, ``loop_read``, ``_handle_publish``)
and uses ``_packet_queue``; the paho version is pinned below 3 and the ingest tests exercise it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_CHUNK_BYTES = 256 * 1024
_PUBACK = 0x40
# Shared by every message without properties; never mutated.
_NO_PROPERTIES = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]


class FastClient(mqtt.Client):
    """paho ``Client`` with buffered reads and batched PUBACKs; otherwise the same API."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # When set, called as on_raw_message(topic, payload, mid, qos) for plain QoS 0/1
        # publishes instead of building an MQTTMessage for on_message.
        self.on_raw_message: Callable[[str, bytes, int, int], None] | None = None
        self._rbuf = bytearray()
        self._rpos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        available = len(self._rbuf) - self._rpos
        if available <= 0:
            chunk = super()._sock_recv(_CHUNK_BYTES)  # raises BlockingIOError when nothing waits
            if not chunk:
                return b""  # connection closed
            self._rbuf = bytearray(chunk)
            self._rpos = 0
            available = len(chunk)
        take = min(bufsize, available)
        start = self._rpos
        self._rpos += take
        return bytes(self._rbuf[start : start + take])

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._rpos < len(self._rbuf):
            rc = super().loop_read(max_packets)
        return rc

    def _reset_sockets(self, sockpair_only: bool = False) -> None:
        if not sockpair_only:  # a new connection must not see bytes left from the old one
            self._rbuf = bytearray()
            self._rpos = 0
        super()._reset_sockets(sockpair_only)

    def message_callback_add(self, sub: str, callback: object) -> None:
        raise NotImplementedError("FastClient delivers every message to on_message; use paho's Client for filters")

    def _handle_publish(self) -> MQTTErrorCode:
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if qos > 1 or self._protocol != mqtt.MQTTv5:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        size = len(packet)
        if size < 3:
            raise MalformedPacket("PUBLISH too short")
        pos = 2 + int.from_bytes(packet[0:2], "big")
        topic = bytes(packet[2:pos])
        mid = 0
        if qos == 1:
            mid = int.from_bytes(packet[pos : pos + 2], "big")
            pos += 2
        if pos >= size or packet[pos] != 0:
            if pos > size:
                raise MalformedPacket("PUBLISH topic longer than the packet")
            return super()._handle_publish()  # has properties
        raw = self.on_raw_message
        if raw is not None:
            with self._in_callback_mutex:
                raw(topic.decode("utf-8", "replace"), bytes(packet[pos + 1 :]), mid, qos)
            if qos == 1 and not self._manual_ack:
                return self._send_puback(mid)
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        message = mqtt.MQTTMessage(mid=mid, topic=topic)
        message.dup = bool(header & 0x08)
        message.qos = qos
        message.retain = bool(header & 0x01)
        message.properties = _NO_PROPERTIES
        message.payload = bytes(packet[pos + 1 :])
        on_message = self.on_message
        if on_message is not None:
            with self._in_callback_mutex:
                on_message(self, self._userdata, message)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: Iterable[int]) -> None:
        """Acknowledge QoS 1 messages with one queued write of all their PUBACKs."""
        packet = b"".join(struct.pack("!BBH", _PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(_PUBACK, packet, 0, 0)
