#include "_mpsync.h"
#define STUB(n, s) PyTypeObject n = { PyVarObject_HEAD_INIT(NULL, 0) .tp_name = s, MPY_OBJECT_TYPE_FIELDS };
STUB(Mpy_DictType, "mpsync.Dict")
STUB(Mpy_ListType, "mpsync.List")
STUB(Mpy_NamespaceType, "mpsync.Namespace")
