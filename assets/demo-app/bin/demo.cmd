@echo off
rem The sample application for Windows: prints its version, its working folder and its arguments.
set /p VERSION=<"%~dp0..\VERSION"
echo demo app %VERSION%
echo cwd: %CD%
set i=0
:loop
if "%~1"=="" goto done
set /a i+=1
echo arg[%i%]: %~1
shift
goto loop
:done
