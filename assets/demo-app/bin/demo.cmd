@echo off
rem The sample application for Windows: prints its version, its working folder and its arguments.
rem `--exit-code=N` makes it exit with N, so tests can check that the launcher passes the code through.
set /p VERSION=<"%~dp0..\VERSION"
echo demo app %VERSION%
echo cwd: %CD%
set i=0
set code=0
:loop
if "%~1"=="" goto done
set /a i+=1
echo arg[%i%]: %~1
set "arg=%~1"
if "%arg:~0,12%"=="--exit-code=" set "code=%arg:~12%"
shift
goto loop
:done
exit /b %code%
