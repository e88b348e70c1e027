package io.ringkv.server.transport;

import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.MessageToByteEncoder;
import io.ringkv.proto.internal.PeerFrame;
import java.io.IOException;
import java.util.List;

/**
 * Wire framing of the peer protocol: a 4-byte big-endian length, then a serialized {@link
 * PeerFrame}. The decoder's size limit starts small (a stranger gets {@link
 * PeerTransport#HANDSHAKE_FRAME_SIZE_BYTES_MAX} bytes to prove it is a peer) and is raised to the
 * peer frame limit after the handshake; a length over the limit fails at once, before any of the
 * frame is buffered.
 */
final class PeerFrameCodec {
  static final int LENGTH_PREFIX_BYTES = 4;

  private PeerFrameCodec() {}

  /** The announced length exceeds the current limit. */
  static final class FrameTooLargeException extends DecoderException {
    FrameTooLargeException(long lengthBytes, int limitBytes) {
      super("frame of " + lengthBytes + " bytes exceeds the limit of " + limitBytes);
    }
  }

  /** The frame's bytes are not a PeerFrame. */
  static final class MalformedFrameException extends DecoderException {
    MalformedFrameException(String message) {
      super(message);
    }
  }

  static final class Decoder extends ByteToMessageDecoder {
    private int frameSizeBytesMax;
    private boolean failed;

    Decoder(int frameSizeBytesMax) {
      this.frameSizeBytesMax = frameSizeBytesMax;
    }

    /** Called on the channel's event loop once the peer has proved itself. */
    void raiseFrameSizeBytesMax(int newFrameSizeBytesMax) {
      frameSizeBytesMax = newFrameSizeBytesMax;
    }

    @Override
    protected void decode(ChannelHandlerContext context, ByteBuf in, List<Object> out) {
      if (failed) {
        in.skipBytes(in.readableBytes());
        return;
      }
      if (in.readableBytes() < LENGTH_PREFIX_BYTES) {
        return;
      }
      long length = in.getUnsignedInt(in.readerIndex());
      if (length > frameSizeBytesMax) {
        failed = true;
        in.skipBytes(in.readableBytes());
        throw new FrameTooLargeException(length, frameSizeBytesMax);
      }
      if (in.readableBytes() < LENGTH_PREFIX_BYTES + length) {
        return;
      }
      in.skipBytes(LENGTH_PREFIX_BYTES);
      ByteBuf body = in.readSlice((int) length);
      PeerFrame frame;
      try {
        frame = PeerFrame.parseFrom(body.nioBuffer());
      } catch (InvalidProtocolBufferException e) {
        failed = true;
        in.skipBytes(in.readableBytes());
        throw new MalformedFrameException("unparseable frame: " + e.getMessage());
      }
      if (frame.getBodyCase() == PeerFrame.BodyCase.BODY_NOT_SET) {
        failed = true;
        throw new MalformedFrameException("frame without a body");
      }
      out.add(frame);
    }
  }

  static final class Encoder extends MessageToByteEncoder<PeerFrame> {
    Encoder() {
      super(PeerFrame.class);
    }

    @Override
    protected ByteBuf allocateBuffer(
        ChannelHandlerContext context, PeerFrame frame, boolean preferDirect) {
      int size = LENGTH_PREFIX_BYTES + frame.getSerializedSize();
      return preferDirect ? context.alloc().ioBuffer(size) : context.alloc().heapBuffer(size);
    }

    @Override
    protected void encode(ChannelHandlerContext context, PeerFrame frame, ByteBuf out)
        throws IOException {
      out.writeInt(frame.getSerializedSize());
      try (ByteBufOutputStream stream = new ByteBufOutputStream(out)) {
        frame.writeTo(stream);
      }
    }
  }
}
