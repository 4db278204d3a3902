"""TF Serving's gRPC API over a `Servable`: PredictionService (Predict, GetModelMetadata) and
ModelService (GetModelStatus). Classify, Regress and MultiInference answer UNIMPLEMENTED."""
import grpc
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from .servable import ServingError


def _version(model_spec):
    return model_spec.version.value if model_spec.HasField("version") else None


def _fill_spec(spec, servable, signature_name=""):
    spec.name = servable.name
    spec.version.value = servable.version
    spec.signature_name = signature_name


def _abort(context, error):
    context.abort(grpc.StatusCode[error.code], error.message)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata as `tensorflow_model_server` answers them."""

    def __init__(self, servable):
        self.servable = servable

    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        signature_name = request.model_spec.signature_name or "serving_default"
        try:
            self.servable.check_spec(request.model_spec.name, _version(request.model_spec))
            try:
                inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
            except (TypeError, ValueError) as e:
                raise ServingError("INVALID_ARGUMENT", f"malformed input tensor: {e}") from None
            outputs = self.servable.predict(signature_name, inputs, request.output_filter)
        except ServingError as e:
            _abort(context, e)
        response = predict_pb2.PredictResponse()
        _fill_spec(response.model_spec, self.servable, signature_name)
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            self.servable.check_spec(request.model_spec.name, _version(request.model_spec))
            if list(request.metadata_field) != ["signature_def"]:
                raise ServingError("INVALID_ARGUMENT", "metadata_field must be ['signature_def']")
        except ServingError as e:
            _abort(context, e)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        for name, signature in self.servable.signatures.items():
            signatures.signature_def[name].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        _fill_spec(response.model_spec, self.servable)
        response.metadata["signature_def"].Pack(signatures)
        return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus: the one loaded version, AVAILABLE."""

    def __init__(self, servable):
        self.servable = servable

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            self.servable.check_spec(request.model_spec.name, _version(request.model_spec))
        except ServingError as e:
            _abort(context, e)
        response = get_model_status_pb2.GetModelStatusResponse()
        status = response.model_version_status.add()
        status.version = self.servable.version
        status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response


def add_services(server, servable):
    """Adds both services over `servable` to a `grpc.server`."""
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(servable), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(servable), server)
