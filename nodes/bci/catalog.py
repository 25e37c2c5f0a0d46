"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "bci.csp_lda": "nodes.bci.csp_lda:CspLda",
    "bci.pipeline": "nodes.bci.pipeline_decoder:PipelineDecoder",
    "bci.seizure": "nodes.bci.seizure_detector:SeizureDetector",
}
