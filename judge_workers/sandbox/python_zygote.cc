#define PY_SSIZE_T_CLEAN
#include <Python.h>
// Python.h must come first.

#include "judge_workers/sandbox/python_zygote.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"

namespace crucible::sandbox {
namespace {

// The driver runs in the forked child. _main mirrors what python3's own main does for
// `python3 path`: a fresh __main__ module, sys.argv, the script's directory first on
// sys.path, SystemExit turned into an exit status, any other exception printed by
// sys.excepthook without the driver's own frame, status 1.
constexpr char kDriver[] = R"PY(
import sys, os, types, builtins, traceback
import importlib.machinery

def _check(path):
    try:
        with open(path, 'rb') as f:
            source = f.read()
        compile(source, path, 'exec', dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        traceback.print_exception(type(e), e, None)
        return 1
    except OSError as e:
        print(f"python3: can't open file {path!r}: {e}", file=sys.stderr)
        return 2
    return 0

def _exit_status(e):
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xff
    try:
        sys.stderr.write(str(code) + '\n')
    except Exception:
        pass
    return 1

def _finish(status):
    # What Py_FinalizeEx does that a program can observe, without tearing down every
    # module (which would copy the zygote's whole heap page by page): wait for
    # non-daemon threads, run atexit handlers, flush stdio. A failed stdout flush makes
    # the status 120, as in python3.
    threading = sys.modules.get('threading')
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:
            pass
    try:
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for name in ('stdout', 'stderr'):
        stream = getattr(sys, name, None)
        try:
            if stream is not None:
                stream.flush()
        except BaseException:
            if name == 'stdout':
                status = 120
    return status

def _main(path, compile_error_fd):
    return _finish(_run(path, compile_error_fd))

def _run(path, compile_error_fd):
    sys.modules.pop('_crucible_zygote', None)
    try:
        with open(path, 'rb') as f:
            source = f.read()
    except OSError as e:
        print(f"python3: can't open file {path!r}: {e}", file=sys.stderr)
        return 2
    main = types.ModuleType('__main__')
    main.__file__ = path
    main.__cached__ = None
    main.__builtins__ = builtins
    main.__loader__ = importlib.machinery.SourceFileLoader('__main__', path)
    sys.modules['__main__'] = main
    sys.argv[:] = [path]
    sys.path.insert(0, os.path.dirname(path))
    try:
        code = compile(source, path, 'exec', dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        if compile_error_fd < 0:
            raise
        traceback.print_exception(type(e), e, None)
        os.write(compile_error_fd, b"C")
        return 1
    if compile_error_fd >= 0:
        os.close(compile_error_fd)
    try:
        exec(code, main.__dict__)
    except SystemExit as e:
        return _exit_status(e)
    except BaseException as e:
        tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
        try:
            sys.excepthook(type(e), e, tb)
        except SystemExit as inner:
            return _exit_status(inner)
        return 1
    return 0
)PY";

// Modules contest programs commonly import; importing them once in the zygote makes
// them free in every run. Not threading or random (nor modules importing them): their
// at-fork hooks would run in every fork and, touching shared pages, cost each run some
// 150 copy-on-write faults; programs that use them import them themselves.
constexpr char kPreimport[] =
    "import math, collections, itertools, functools, heapq, bisect, re, string, fractions, "
    "decimal, array, operator, copy, typing, io, time, json, enum, cmath, abc, numbers\n"
    "import sys, atexit\n"
    // The first compile() in a process builds the ast module's ~120 types (compile
    // accepts an AST): done here once, not in every run (some 2.5 ms of page faults).
    "compile('pass', '<zygote>', 'exec', dont_inherit=True)\n"
    "assert 'threading' not in sys.modules and 'random' not in sys.modules\n"
    // Every object alive now moves to the permanent generation: the collector never
    // walks them in a fork, so their pages stay shared instead of being copied.
    "import gc\n"
    "gc.collect()\n"
    "gc.freeze()\n";

PyObject* g_driver = nullptr;

[[noreturn]] void FatalPythonSetup(const char* what) {
  std::fprintf(stderr, "crucible-sandbox: python zygote: %s\n", what);
  if (PyErr_Occurred()) PyErr_Print();
  ::_exit(70);
}

}  // namespace

absl::StatusOr<std::string> InitializePythonZygote(const std::string& python_executable) {
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.parse_argv = 0;
  // The interpreter must not pick up PYTHON* variables from whoever started the judge.
  config.use_environment = 0;
  config.install_signal_handlers = 1;
  PyStatus status =
      PyConfig_SetBytesString(&config, &config.program_name, python_executable.c_str());
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot initialise the embedded Python as ", python_executable, ": ",
        status.err_msg != nullptr ? status.err_msg : "unknown error"));
  }
  PyObject* module = PyImport_AddModule("_crucible_zygote");  // borrowed
  PyObject* globals = module != nullptr ? PyModule_GetDict(module) : nullptr;
  if (globals == nullptr) return absl::InternalError("cannot create the zygote module");
  PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
  PyObject* result = PyRun_String(kDriver, Py_file_input, globals, globals);
  if (result == nullptr) {
    PyErr_Print();
    return absl::InternalError("the zygote driver failed to load");
  }
  Py_DECREF(result);
  if (PyRun_SimpleString(kPreimport) != 0) {
    return absl::InternalError("pre-importing standard modules failed");
  }
  g_driver = module;
  Py_INCREF(g_driver);
  PyObject* sys_version = PySys_GetObject("version");  // borrowed
  const char* version = sys_version != nullptr ? PyUnicode_AsUTF8(sys_version) : nullptr;
  return std::string(version != nullptr ? version : "unknown");
}

void PythonBeforeFork() {
  if (g_driver != nullptr) PyOS_BeforeFork();
}

void PythonAfterForkInParent() {
  if (g_driver != nullptr) PyOS_AfterFork_Parent();
}

void RunPythonAndExit(bool check_only, const std::string& script_path, int compile_error_fd) {
  if (g_driver == nullptr) FatalPythonSetup("not initialised");
  PyOS_AfterFork_Child();
  PyObject* fn = PyObject_GetAttrString(g_driver, check_only ? "_check" : "_main");
  if (fn == nullptr) FatalPythonSetup("driver function missing");
  PyObject* result = check_only
                         ? PyObject_CallFunction(fn, "s", script_path.c_str())
                         : PyObject_CallFunction(fn, "si", script_path.c_str(), compile_error_fd);
  int exit_status = 1;
  if (result != nullptr) {
    exit_status = static_cast<int>(PyLong_AsLong(result));
    Py_DECREF(result);
  } else {
    PyErr_Print();
  }
  Py_DECREF(fn);
  ::_exit(exit_status);
}

}  // namespace crucible::sandbox
