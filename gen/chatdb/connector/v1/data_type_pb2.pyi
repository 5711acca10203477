from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class DataType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_TYPE_UNSPECIFIED: _ClassVar[DataType]
    DATA_TYPE_INTEGER: _ClassVar[DataType]
    DATA_TYPE_FLOAT: _ClassVar[DataType]
    DATA_TYPE_DECIMAL: _ClassVar[DataType]
    DATA_TYPE_TEXT: _ClassVar[DataType]
    DATA_TYPE_BOOLEAN: _ClassVar[DataType]
    DATA_TYPE_DATE: _ClassVar[DataType]
    DATA_TYPE_TIMESTAMP: _ClassVar[DataType]
    DATA_TYPE_JSON: _ClassVar[DataType]
    DATA_TYPE_BYTES: _ClassVar[DataType]
    DATA_TYPE_OTHER: _ClassVar[DataType]
DATA_TYPE_UNSPECIFIED: DataType
DATA_TYPE_INTEGER: DataType
DATA_TYPE_FLOAT: DataType
DATA_TYPE_DECIMAL: DataType
DATA_TYPE_TEXT: DataType
DATA_TYPE_BOOLEAN: DataType
DATA_TYPE_DATE: DataType
DATA_TYPE_TIMESTAMP: DataType
DATA_TYPE_JSON: DataType
DATA_TYPE_BYTES: DataType
DATA_TYPE_OTHER: DataType
