@echo off
rem Chatchat for Windows: double-click this file. It finds Python 3.11-3.12 (or offers to install one
rem with winget) and hands over to launcher.py, which installs Chatchat on the first run, then starts it
rem and opens the browser. Options: --update (install again after downloading a new version), --no-browser.
setlocal
chcp 65001 >nul
set "PY="
set "CHECK=import sys, venv; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))"

if defined CHATCHAT_PYTHON set "PY="%CHATCHAT_PYTHON%"" & goto run
for %%V in (3.12 3.11) do if not defined PY py -%%V -c "%CHECK%" >nul 2>&1 && set "PY=py -%%V"
if not defined PY python -c "%CHECK%" >nul 2>&1 && set "PY=python"
if not defined PY where uv >nul 2>&1 && for /f "delims=" %%P in ('uv python find ">=3.11,<3.13" 2^>nul') do set "PY="%%P""
if defined PY goto run

echo Chatchat needs Python 3.11 or 3.12, and none was found.
echo Chatchat 需要 Python 3.11 或 3.12，但没有找到。
where winget >nul 2>&1 || goto manual
choice /M "Install Python 3.12 for your user now with winget? / 现在用 winget 安装 Python 3.12"
if errorlevel 2 goto manual
winget install --exact --id Python.Python.3.12 --scope user --accept-package-agreements --accept-source-agreements
set "PY="%LOCALAPPDATA%\Programs\Python\Python312\python.exe""
if exist %PY% goto run

:manual
echo Install Python 3.12 from https://www.python.org/downloads/windows/ (tick "Add python.exe to PATH"),
echo then double-click Chatchat.bat again. / 请从上面的网址安装 Python 3.12 后重新双击 Chatchat.bat。
pause
exit /b 1

:run
%PY% "%~dp0launcher.py" %*
if errorlevel 1 pause
