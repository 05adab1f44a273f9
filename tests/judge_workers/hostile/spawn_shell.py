import os
os.system("echo from shell; cat /etc/shadow /root/.bashrc 2>/dev/null; ls /home 2>/dev/null")
