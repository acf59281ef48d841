// The port through which services reach connected clients. realtime/ implements it on Socket.IO
// (across every node when Redis is configured); services never import socket.io themselves.

export type RealtimeNamespace = 'notifications' | 'coach' | 'walk' | 'chat';

export type RealtimePort = {
  emitToUser: (namespace: RealtimeNamespace, userId: string, event: string, payload: unknown) => void;
  // Closes every socket of the user, or of one sign-in session, on every node.
  disconnectUser: (userId: string) => Promise<void>;
  disconnectSession: (sessionId: string) => Promise<void>;
};
