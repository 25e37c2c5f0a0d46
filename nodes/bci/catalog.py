"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "bci.csp_lda": "nodes.bci.csp_lda:CspLda",
    "bci.pipeline": "nodes.bci.pipeline_decoder:PipelineDecoder",
    "bci.seizure": "nodes.bci.seizure_detector:SeizureDetector",
    "bci.decoder": "nodes.bci.decoder:Decoder",
    "cues.motor_imagery": "nodes.bci.cues.motor_imagery:MotorImagery",
    "cues.ssvep": "nodes.bci.cues.ssvep:Ssvep",
    "cues.align": "nodes.bci.cues.align:Align",
    "cues.feedback": "nodes.bci.cues.feedback:Feedback",
}
