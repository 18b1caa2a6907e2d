/** Framing codecs (netty's and gnet's four): see codec.ts for the API, spec.ts for `--codec`. */
export { isFrameError, receiveFrames, type Codec, type FrameReceiver, type FrameDecoder, type FrameError } from './codec.js';
export { delimiterCodec, lineCodec } from './delimiter.js';
export { fixedCodec } from './fixed.js';
export { LENGTH_FIELD_DEFAULTS, lengthFieldCodec, type LengthFieldOptions } from './length-field.js';
export { CODEC_SPEC_HELP, CodecSpecError, DEFAULT_DELIMITED_MAX, MAX_FRAME_LIMIT, parseCodecSpec } from './spec.js';
