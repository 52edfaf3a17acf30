// Shapes of the generated table lib/generated/gguf-arches.ts (scripts/gen/gen-gguf-arches.mjs).

/** llama.cpp's llama_rope_type: NORM = pairs (2j, 2j+1), NEOX = pairs (j, j + n_rot/2). */
export type GgufRopeType = 'norm' | 'neox' | 'mrope' | 'imrope' | 'none';

/** A GGUF condition the generator read from an `if` in load_arch_hparams. */
export type GgufWhen = 'always' | 'sliding_window>0' | 'sliding_window<=0' | 'sliding_window==0' | 'sliding_window!=0' | `block_count==${number}`;

export interface GgufArch {
  /** llama_model_rope_type(); {ifSections} = MROPE when rope.dimension_sections has sections 0 and 1 > 0. */
  rope: GgufRopeType | { ifSections: GgufRopeType; else: GgufRopeType } | { condition: string; then: GgufRopeType; else: GgufRopeType };
  /** The llama.cpp file the per-layer facts come from. */
  file?: string;
  /** Something per-layer the generator could not read: layersFromGGUF refuses the architecture. */
  unread?: string;
  swa?: {
    period?: number;
    denseFirst?: boolean;
    periodKey?: boolean;
    arrayKey?: boolean;
    required?: boolean;
    when?: GgufWhen;
    baseInherit: boolean;
    scaleInherit: boolean;
    baseKey: boolean;
    factors: boolean;
    perLayerBase: boolean;
    perLayerRot: boolean;
  };
  noRope?: { step: number; form: 'il+1' | 'il'; blockCountWhen?: GgufWhen };
  /** Reads nextn_predict_layers (MTP blocks at the end of block_count); swa/recurrent: whether the
   * sliding-window / recurrent loops run after that read, so stop before those blocks. */
  nextn?: { swa: boolean; recurrent: boolean };
  /** 'q_pe': the graph ropes a separate q_pe/k_pe view of rope.dimension_count values (MLA). */
  ropeView?: 'q_pe';
  yarn?: { betaKeys?: boolean; logMul?: 'over0.1' | 'raw'; mscaleIsAllDim?: boolean };
  noAttention?: { headCountKvZero?: boolean; recurrentLayersKey?: boolean; fullAttentionInterval?: number | null };
}
